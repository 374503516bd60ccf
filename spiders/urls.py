"""URL canonicalisation and URL-only guesses about what a link points to."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def canonicalize(url: str) -> str:
    """The URL an article is known by: no fragment, no tracking parameters, default port dropped.

    Parameter order is kept (some CMSs route on it); only the scheme and host are lower-cased.
    """
    parts = urlsplit(safe_url_string(url.strip()))
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not (
        (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
    ):
        host = f"{host}:{port}"
    if ":" in host and not port and not host.startswith("["):  # bare IPv6 literal
        host = f"[{host}]"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    )
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", query, ""))


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
    """True when the URL's host is one of `hosts` or a `www.` variant of one."""
    host = (urlsplit(url).hostname or "").lower()
    bare = host.removeprefix("www.")
    return any(bare == h.lower().removeprefix("www.") for h in hosts)
