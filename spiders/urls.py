"""URL canonicalisation and URL-only guesses about what a link points to."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string

#: Query parameters that only track the visitor; the article is the same without them.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "mc_cid", "mc_eid", "igshid", "ocid", "cmpid", "icid", "ito", "ns_mchannel",
        "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "_ga", "_gl", "at_medium",
        "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4", "smid",
        "ref", "ref_src", "wt.mc_id", "xtor", "soc_src", "soc_trk", "sr_share",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "at_")
#: The only schemes a page to archive can have.
WEB_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: A host name (ASCII after IDNA) or an IPv6 literal: anything else is no web host.
_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|[0-9a-f:.]*:[0-9a-f:.]*")


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def canonical_host(host: str) -> str:
    """The one form hosts are compared in: lower-case, IDNA (punycode) labels, no final dot.

    Site configs may spell a host in Unicode while links arrive in punycode (or the reverse);
    both must name one site.
    """
    host = host.strip().lower().rstrip(".")
    if host.isascii():
        return host
    try:
        # As w3lib's safe_url_string (and so canonicalize) encodes hosts: NFKC, then IDNA.
        return unicodedata.normalize("NFKC", host).encode("idna").decode("ascii")
    except UnicodeError:
        return host


def canonicalize(url: str) -> str | None:
    """The URL an article is known by: no fragment, no tracking parameters, default port dropped.

    Parameter order is kept (some CMSs route on it); only the scheme and host are lower-cased.
    None when the text names no http(s) page: another scheme, no host, a bad port or IPv6
    literal. Never raises: links come from pages, feeds and sitemaps anyone can write.
    """
    try:
        parts = urlsplit(safe_url_string(url.strip()))
        port = parts.port
    except ValueError:  # "http://[::1/x", "http://h:99999/"
        return None
    scheme = parts.scheme.lower()
    host = canonical_host(parts.hostname or "")
    if scheme not in WEB_SCHEMES or not _HOST.fullmatch(host):
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    )
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def join_url(base: str | None, href: str) -> str:
    """`href` resolved against `base`; as given when either cannot be parsed (canonicalize then
    refuses it), so one bad link never stops the page's other links."""
    if not base:
        return href
    try:
        return urljoin(base, href)
    except ValueError:  # an unclosed IPv6 literal in either
        return href


_PAGINATION = re.compile(r"(/page/\d+/?$)|([?&](page|p|pg)=\d+)", re.IGNORECASE)
_DATE_PATH = re.compile(r"/(19|20)\d{2}/(0?[1-9]|1[0-2]|[a-z]{3})/")
_LONG_NUMBER = re.compile(r"\d{5,}")


def looks_like_pagination(url: str) -> bool:
    return bool(_PAGINATION.search(url))


def looks_like_article_url(url: str) -> bool:
    """A guess from the URL alone, used only when a site config gives no `allow` patterns."""
    path = urlsplit(url).path
    if looks_like_pagination(url):
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return bool(
        _DATE_PATH.search(path)
        or _LONG_NUMBER.search(last)
        or last.count("-") >= 2
        or (last.endswith((".html", ".htm")) and last not in ("index.html", "index.htm"))
    )


def same_site(url: str, hosts: set[str]) -> bool:
    """True when the URL's host is one of `hosts` or a `www.` variant of one (IDN-insensitive)."""
    try:
        host = canonical_host(urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:
        return False
    return any(host == canonical_host(h).removeprefix("www.") for h in hosts)
