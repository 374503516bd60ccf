"""Article metadata beyond trafilatura's: dates with time zones, clean titles, author lists."""

from __future__ import annotations

import html
import logging
import re
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any, Final, NamedTuple
from urllib.parse import urljoin, urlsplit

from lxml import etree

from newsarchive.extraction.jsonlimits import loads_bounded

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from lxml.html import HtmlElement

logger = logging.getLogger(__name__)

# Separators publishers put between headline and site name ("Headline - Site", "Headline | Site").
_TITLE_SEPARATORS = (
    " | ",
    " - ",
    " \u2013 ",  # en dash
    " \u2014 ",  # em dash
    " :: ",
    " · ",
    " • ",
    "\uff5c",  # fullwidth vertical line (Japanese sites)
    " // ",
    " » ",
    " « ",
    " \u203a ",  # single right angle quotation mark, as breadcrumbs and blogs use it
)
# Where the article's heading is, best first: a plain <h1>, microdata's headline, the article
# header's <h2> (pages whose only <h1> is the breadcrumb's).
_HEADING_XPATHS = (
    etree.XPath("//h1"),
    etree.XPath(
        "//*[contains(concat(' ', normalize-space(@itemprop), ' '), ' headline ')][not(self::meta)]"
    ),
    etree.XPath("//article//header//h2 | //header[ancestor::main]//h2"),
)
_MAX_HEADING_NODES = 3
# Every heading level, for the one <title> names: old layouts set the headline in an <h2>-<h4>.
_HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Headings read when looking for the one <title> names (a page's first ones: the article's).
_MAX_TITLE_HEADINGS = 40
# Text nodes of the body, read for a <title> part spelled outside any heading; bounded (a page
# may hold tens of thousands).
_BODY_TEXTS = etree.XPath("//body//text()")
_MAX_TITLE_TEXTS = 2000
# A <title> of more parts than this is a page's keyword list or broken markup, no headline's.
_MAX_TITLE_PARTS = 12
# A body text this long (in words) spelling a part of <title> is the headline: shorter ones are
# as often a section's or a place's name ("Sports", "Charleston, SC").
_MIN_TITLED_TEXT_WORDS = 3
# Between a <title>'s parts, wider than _TITLE_SEPARATORS: a heading must then spell a part
# ("Blog: Headline", "Headline :blog", "Headline_English_Agency", "Site > Section -- Headline").
_PART_MARKS = "-|/>~\u2013\u2014\u00b7\u2022\u00bb\u00ab\u203a"  # "-" first: no range
_TITLE_PART_RE = re.compile(rf"\s+[{_PART_MARKS}:]+\s+|[|_\uff5c]|:\s|\s:|-\s")
# The same without the colon, where og:title or the heading confirm <title>: there the colon
# is a kicker's ("Kicker: Headline"), the headline's own words.
_TITLE_PART_NO_COLON_RE = re.compile(rf"\s+[{_PART_MARKS}]+\s+|[|_\uff5c]|-\s")
# Paths of a site's home page: a heading linking there is the site's logo (blogs' <h1>).
_HOME_PATHS = frozenset({"", "index.html", "index.htm", "index.php"})
# A heading inside navigation: breadcrumbs end in the page's name, often marked up as <h1>.
_IN_NAVIGATION = etree.XPath(
    "boolean(ancestor-or-self::*[self::nav or self::li or "
    "contains(translate(@class, 'ABCDEMRU', 'abcdemru'), 'breadcrumb') or "
    "contains(translate(@id, 'ABCDEMRU', 'abcdemru'), 'breadcrumb')])"
)
# A tail this short (in words) after the last separator is a site or section name, not part of
# the headline ("Golf von Amerika - ein Akt der Großtuerei" keeps its dash: the tail is long).
MAX_SITE_TAIL_WORDS = 4
_TITLE_SEPARATOR_RE = re.compile("|".join(re.escape(sep) for sep in _TITLE_SEPARATORS))
# JSON-LD types whose dates and authors describe the article itself.
_ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "blogposting",
        "liveblogposting",
        "report",
        "webpage",
        "scholarlyarticle",
        "socialmediaposting",
        "techarticle",
        "videoobject",
    }
)
_PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "datepublished",
    "published_time",
    "publishdate",
    "publish-date",
    "pubdate",
    "dc.date.issued",
    "dc.date",
    "dcterms.created",
    "dcterms.date",
    "parsely-pub-date",
    "sailthru.date",
    "article.published",
    "date",
)
_MODIFIED_META = (
    "article:modified_time",
    "og:article:modified_time",
    "og:updated_time",
    "datemodified",
    "modified_time",
    "last-modified",
    "dcterms.modified",
    "article.updated",
)
# Lenient ISO 8601 parsing: "2024-04-26T10:00:00Z", "2024-04-26 10:00:00+0200", "2024-04-26".
_ISO_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2})?)?",
    re.IGNORECASE,
)
# Dates before this are parse errors or epoch defaults, not publication dates.
MIN_YEAR = 1990
# Clock skew between the publisher and us: a page stamped a few minutes ahead is not "future".
FUTURE_TOLERANCE = timedelta(hours=2)
_AUTHOR_SPLIT_RE = re.compile(r"\s*(?:;|\||,|\band\b|\bund\b|\bet\b|\by\b|\be\b|&|\bو\b|、|/)\s*")
_AUTHOR_PREFIX_RE = re.compile(r"^(?:by|von|par|por|di|door|av|af|bởi|بقلم)\s+", re.IGNORECASE)
_AUTHOR_NOISE_RE = re.compile(r"https?://|@|\d")


def parse_iso(value: str) -> tuple[datetime | date, bool] | None:
    """Parse an ISO 8601-ish string; (value, has_time) or None."""
    match = _ISO_RE.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second, tz = match.groups()
    try:
        if hour is None:
            return date(int(year), int(month), int(day)), False
        parsed = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
        if tz:
            parsed = datetime.fromisoformat(parsed.isoformat() + _normalize_offset(tz))
        return parsed, True
    except ValueError:
        return None


def _normalize_offset(tz: str) -> str:
    if tz.upper() == "Z":
        return "+00:00"
    digits = tz[1:].replace(":", "")
    if len(digits) == 2:
        digits += "00"
    return f"{tz[0]}{digits[:2]}:{digits[2:4]}"


def format_date(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


def is_plausible(value: datetime | date, now: datetime) -> bool:
    """Not before MIN_YEAR and not in the future (a scheduled or mistyped date)."""
    if value.year < MIN_YEAR:
        return False
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware <= now + FUTURE_TOLERANCE
    # a bare date: compare with the latest date anywhere on Earth right now (UTC+14)
    return value <= (now + timedelta(hours=14)).date()


def clean_date(value: str | None, now: datetime) -> str | None:
    if not value:
        return None
    parsed = parse_iso(value.strip())
    if parsed is None or not is_plausible(parsed[0], now):
        return None
    return format_date(parsed[0])


def _walk_jsonld(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _walk_jsonld(item)
    elif isinstance(node, dict):
        yield node
        for key in ("@graph", "mainEntity", "itemListElement"):
            if key in node:
                yield from _walk_jsonld(node[key])


def _types(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type", [])
    values = raw if isinstance(raw, list) else [raw]
    return {str(v).lower() for v in values}


def jsonld_objects(tree: HtmlElement) -> list[dict[str, Any]]:
    """JSON-LD objects describing the article (NewsArticle and kin), best first."""
    found: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            data = loads_bounded(raw)
        except ValueError:
            # Publishers often leave trailing commas or raw newlines in strings (and hostile
            # pages nest thousands deep, past JSON_MAX_DEPTH): skip quietly.
            logger.debug("unparsable JSON-LD block skipped")
            continue
        found.extend(node for node in _walk_jsonld(data) if _types(node) & _ARTICLE_TYPES)
    # "webpage" describes the page: keep it only after the real article types
    found.sort(key=lambda node: "webpage" in _types(node) and len(_types(node)) == 1)
    return found


def _meta_values(tree: HtmlElement) -> dict[str, str]:
    values: dict[str, str] = {}
    for meta in tree.xpath("//meta[@content]"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        content = (meta.get("content") or "").strip()
        if key and content and key not in values:
            values[key] = content
    return values


def find_dates(
    tree: HtmlElement, jsonld: Sequence[dict[str, Any]], now: datetime
) -> tuple[str | None, str | None]:
    """(published, modified) from JSON-LD, then meta tags, then <time datetime>."""
    published: str | None = None
    modified: str | None = None
    candidates_pub: list[str] = []
    candidates_mod: list[str] = []
    for node in jsonld:
        for key, target in (("datePublished", candidates_pub), ("dateCreated", candidates_pub)):
            if isinstance(node.get(key), str):
                target.append(node[key])
        if isinstance(node.get("dateModified"), str):
            candidates_mod.append(node["dateModified"])
    meta = _meta_values(tree)
    candidates_pub.extend(meta[key] for key in _PUBLISHED_META if key in meta)
    candidates_mod.extend(meta[key] for key in _MODIFIED_META if key in meta)
    candidates_pub.extend(
        str(v) for v in tree.xpath("//time[@itemprop='datePublished' or @pubdate]/@datetime")
    )
    candidates_pub.extend(str(v) for v in tree.xpath("(//article//time/@datetime)[1]"))
    published = _best(candidates_pub, now)
    modified = _best(candidates_mod, now)
    if published and modified and modified < published[: len(modified)]:
        # a "modified" before publication is a template default, not an edit
        modified = None
    return published, modified


def _best(candidates: Sequence[str], now: datetime) -> str | None:
    """The first plausible candidate, preferring one with a time zone, then one with a time."""
    parsed = [clean_date(c, now) for c in candidates]
    valid = [p for p in parsed if p]
    if not valid:
        return None
    first = valid[0]
    # Same day but more precise wins ("2024-04-26" in JSON-LD, full timestamp in meta).
    for value in valid:
        if value[:10] == first[:10] and len(value) > len(first):
            first = value
    return first


def clean_title(title: str | None, site_names: Sequence[str]) -> str | None:
    """Strip a leading or trailing " - Publisher" / " | Site" that names the site.

    Only a part matching one of `site_names` goes: a short tail may be the headline's own last
    words ("... - Update", "... - here's how to check"), so shape alone never decides.
    """
    if not title:
        return None
    title = " ".join(title.split())
    lowered_sites = [s.casefold().strip() for s in site_names if s and s.strip()]
    for _ in range(2):
        changed = False
        for sep in _TITLE_SEPARATORS:
            if sep not in title:
                continue
            head, _, tail = title.rpartition(sep)
            lead, _, rest = title.partition(sep)
            # the site's name opens a tail ("| Site - its tagline") and closes a lead: a lead
            # "Site » First words" followed by " — more words" keeps its headline words
            tail_cf = _TITLE_SEPARATOR_RE.split(tail.casefold())[0].strip()
            lead_cf = _TITLE_SEPARATOR_RE.split(lead.casefold())[-1].strip()
            if any(_site_match(tail_cf, s) for s in lowered_sites) and head.strip():
                title, changed = head.strip(), True
            elif any(_site_match(lead_cf, s) for s in lowered_sites) and rest.strip():
                title, changed = rest.strip(), True
            if changed:
                break
        if not changed:
            break
    return title or None


def domain_names(url: str | None) -> list[str]:
    """Site names a URL's host spells ("www.theguardian.com": "theguardian.com", "theguardian")."""
    host = urlsplit(url).hostname if url else None
    if not host:
        return []
    host = host.removeprefix("www.").removeprefix("m.")
    labels = host.split(".")
    names = [host]
    if len(labels) >= 2:
        # the registrable label, and the host without its public suffix ("sz.de" -> "sz")
        names.append(labels[-2] if len(labels[-1]) > 2 or len(labels) == 2 else labels[-3])
    return [n for n in names if len(n) >= 2]


def headline(
    tree: HtmlElement,
    jsonld: Sequence[dict[str, Any]],
    page_title: str | None,
    site_names: Sequence[str],
    url: str | None = None,
) -> str | None:
    """The headline as published, from JSON-LD, the article's heading, og:title, twitter:title
    and <title>, each without a prefix or suffix naming the site.

    The JSON-LD headline is the publisher's own statement of it, except where it is evidently
    not the whole headline: cut short (Google's guide asks for 110 characters) or without the
    kicker that the heading and og:title both show, or the page's SEO name (the same words as
    the breadcrumb's <h1> while the article's heading reads otherwise). Without it, the wording
    most of the others give wins, on a tie the heading's, what a reader sees.
    """
    meta = _meta_values(tree)
    ld = next((str(n["headline"]) for n in jsonld[:1] if isinstance(n.get("headline"), str)), None)
    renderings, page_name, logo = _page_headings(tree, url)
    names = [*site_names, logo] if logo else site_names

    def clean(raw: str | None) -> str | None:
        # JSON-LD and meta values come HTML-escaped from some CMSs ("&#8216;family&#8217;")
        return clean_title(html.unescape(raw), names) if raw else None

    og = clean(meta.get("og:title"))
    tail = [og, clean(meta.get("twitter:title")), clean(page_title)]
    heading = _rendering(renderings, [_title_norm(t) for t in tail if t])
    others = [heading, *tail]
    votes: dict[str, int] = {}
    for candidate in others:
        if candidate:
            votes[_title_norm(candidate)] = votes.get(_title_norm(candidate), 0) + 1
    agreed = max(votes, key=votes.__getitem__, default="")  # the first of the best on a tie
    # og:title spells a kicker "Kicker: Headline" where the heading has two lines of layout
    spelled = next((c for c in (og, *others) if c and _title_norm(c) == agreed), None)
    headline_ld = clean(ld)
    if not headline_ld:
        alone = votes.get(agreed) == 1
        titled = _titled_heading(tree, page_title, names, url, colon=alone)
        if titled is None and alone:
            # no two sources agree: a body text spelling a part of <title> is a second witness
            # (when og:title or the heading says what <title> says, that is the headline)
            titled = _titled_text(tree, page_title, names)
        return titled or spelled
    ld_norm = _title_norm(headline_ld)
    if headline_ld.endswith(("...", "…")):
        longer = [c for c in others if c and _title_norm(c).startswith(ld_norm)]
        longer = [c for c in longer if len(c) > len(headline_ld)]
        if longer:
            return longer[0]
    # the heading and og:title agree on more words: JSON-LD left out a kicker or a tail
    confirmed = heading is not None and _title_norm(heading) == agreed == _title_norm(og or "")
    within = f"{agreed} ".startswith(f"{ld_norm} ") or f" {agreed}".endswith(f" {ld_norm}")
    if ld_norm and agreed != ld_norm and confirmed and within:
        return spelled
    if page_name and ld_norm == _title_norm(page_name) and heading and agreed != ld_norm:
        return spelled
    return headline_ld


#: Where a site's headline may be taken from (a site YAML's `extraction.title_source`, whose
#: type spells the same values).
TITLE_SOURCES: Final = ("auto", "jsonld", "og", "h1", "title")


def title_from(
    source: str,
    tree: HtmlElement,
    jsonld: Sequence[dict[str, Any]],
    page_title: str | None,
    site_names: Sequence[str],
) -> str | None:
    """The headline from the one `source` an operator named, without the site's name; None
    for "auto", or where the page lacks that source (the generic choice then decides)."""
    raw: str | None = None
    if source == "jsonld":
        raw = next((str(n["headline"]) for n in jsonld if isinstance(n.get("headline"), str)), None)
    elif source == "og":
        raw = _meta_values(tree).get("og:title")
    elif source == "h1":
        raw = next((text for node in tree.iter("h1") if (text := _text(node))), None)
    elif source == "title":
        raw = page_title
    return clean_title(html.unescape(raw), site_names) if raw else None


class _Headings(NamedTuple):
    #: The article's heading as read, and with its parts spaced if that differs.
    renderings: tuple[str, ...] = ()
    #: A breadcrumb's or navigation list's <h1>: the page's SEO name.
    page_name: str | None = None
    #: An <h1> linking to the home page: the site's logo, so its name.
    logo: str | None = None


def _page_headings(tree: HtmlElement, url: str | None) -> _Headings:
    """The article's heading, the breadcrumb's <h1> and the logo's.

    Neither the logo nor the page's SEO name is the headline, which is then the next <h1>, the
    element marked up as the headline, or the heading of the article's <header>.
    """
    page_name: str | None = None
    logo: str | None = None
    for i, path in enumerate(_HEADING_XPATHS):
        if i == len(_HEADING_XPATHS) - 1 and page_name is None:
            # the header's <h2> stands in only for a breadcrumb's <h1> (elsewhere it is often a
            # teaser's, or the headline with its comment count)
            break
        for node in path(tree)[:_MAX_HEADING_NODES]:
            text = _text(node)
            if not text:
                continue
            if _links_home(node, url):
                logo = logo or text
            elif _IN_NAVIGATION(node):
                page_name = page_name or text
            else:
                spaced = " ".join(" ".join(node.itertext()).split())
                renderings = (text, spaced) if spaced != text else (text,)
                return _Headings(renderings, page_name, logo)
    return _Headings((), page_name, logo)


def _titled_heading(
    tree: HtmlElement,
    page_title: str | None,
    site_names: Sequence[str],
    url: str | None,
    *,
    colon: bool = True,
) -> str | None:
    """The heading that spells most of <title>, its other parts being the site's or a section's.

    "Site | Headline" with the <h1> the site's logo and the headline an <h2>: the <title> says
    which heading is the headline, and the heading says where its affixes end, names known or
    not. A part of half the title's words or more, so a heading spelling the site's name (or
    a section's) never wins over the headline beside it. Without `colon` (og:title or the
    heading confirm <title>) a colon parts only a name a heading or the metadata gives ("Blog:
    Headline" under an <h1> "Blog"): elsewhere it is a kicker's, "Kicker: Headline".
    """
    runs = _title_runs(page_title, _TITLE_PART_RE)
    if not runs:
        return None
    total = max(words for words, _ in runs.values())
    names = {re.sub(r"\W+", "", s.casefold()) for s in site_names}
    headings = [
        (node, text, _title_norm(text))
        # one walk in document order (an XPath union walks the tree once a level)
        for node in islice(tree.iter(_HEADING_TAGS), _MAX_TITLE_HEADINGS)
        if (text := _text(node))
    ]
    if not colon:
        shown = {norm for _, _, norm in headings} | names
        strict = _title_runs(page_title, _TITLE_PART_NO_COLON_RE)
        runs = {
            run: (words, rest)
            for run, (words, rest) in runs.items()
            if run in strict or rest in shown or rest.replace(" ", "") in names
        }
    best: tuple[int, str] | None = None
    masthead = headings[0][2] if headings else None
    for i, (node, text, norm) in enumerate(headings):
        words, rest = runs.get(norm, (0, ""))
        usable = bool(words) and not (
            # the name itself, not _site_match's containment ("ted" is in "completed")
            norm.replace(" ", "") in names or _links_home(node, url) or _IN_NAVIGATION(node)
        )
        if usable and i and rest == masthead:
            # the page's first heading spells the rest of <title>: the site's masthead, whatever
            # its length ("The Morning Wrap - The BLT: The Blog of Legal Times")
            return text
        if usable and 2 * words >= total and (best is None or words > best[0]):
            best = (words, text)
    return best[1] if best else None


def _titled_text(
    tree: HtmlElement, page_title: str | None, site_names: Sequence[str]
) -> str | None:
    """The part of <title> the body spells as a text of its own.

    Old layouts set the headline in a <b> or <font>, no heading: the body's own copy of a
    part says where the headline ends and the site's name or section begins. The longest such
    part of three words or more (a site's or section's name is in the body too: "Sports",
    "Charleston, SC"), not one opening or closing with the site's name (its tagline, "Site -
    News, Blogs and More"), not a teaser cut short.
    """
    if not page_title:
        return None
    whole = _title_norm(page_title)
    runs = {
        run: words
        for run, (words, _) in _title_runs(page_title, _TITLE_PART_RE).items()
        if run != whole and words >= _MIN_TITLED_TEXT_WORDS
    }
    if not runs:
        return None
    names = [_title_norm(s) for s in site_names if _title_norm(s)]
    compact = [n.replace(" ", "") for n in names]
    best: tuple[int, str] | None = None
    # lengths a text spelling a run can have, spacing and punctuation aside: most texts, the
    # paragraphs and the menus' words, are longer or shorter
    longest = 2 * len(page_title)
    shortest = min(len(run) for run in runs) // 2
    for raw in _BODY_TEXTS(tree)[:_MAX_TITLE_TEXTS]:
        if not shortest <= len(raw) <= longest or (
            # a script's text (half the cost of excluding scripts in the XPath)
            not raw.is_tail and raw.getparent().tag in ("script", "style")
        ):
            continue
        text = " ".join(str(raw).split())
        norm = _title_norm(text)
        if norm not in runs or text.endswith(("...", "\u2026")):
            continue
        words = norm.split()
        if any(
            "".join(words[:k]) in compact or "".join(words[-k:]) in compact
            for k in range(1, min(len(words), 6) + 1)
        ):
            continue
        if best is None or runs[norm] > best[0]:
            best = (runs[norm], text)
    return best[1] if best else None


def _title_runs(page_title: str | None, separators: re.Pattern[str]) -> dict[str, tuple[int, str]]:
    """The runs of a <title>'s parts from its start or to its end, each with its word count
    and the parts it leaves ("A | B | C": "a b c", "a b", "a", "b c", "c")."""
    if not page_title:
        return {}
    parts = [p for p in (_title_norm(p) for p in separators.split(page_title)) if p]
    if len(parts) > _MAX_TITLE_PARTS:
        return {}
    counts = [len(p.split()) for p in parts]
    runs: dict[str, tuple[int, str]] = {}
    for cut in range(1, len(parts) + 1):
        # the first `cut` parts, and the parts from the `cut`-th from the end on
        for run, rest, words in (
            (parts[:cut], parts[cut:], sum(counts[:cut])),
            (parts[-cut:], parts[:-cut], sum(counts[-cut:])),
        ):
            runs[" ".join(run)] = (words, " ".join(rest))
    return runs


def _links_home(node: HtmlElement, url: str | None) -> bool:
    for href in node.xpath(".//a/@href | ancestor::a/@href"):
        path = urlsplit(urljoin(url or "", str(href).strip())).path
        if path.strip("/") in _HOME_PATHS:
            return True
    return False


def _rendering(renderings: Sequence[str], others: Sequence[str]) -> str | None:
    """The heading as read, or spaced between its parts when only that matches another source.

    ("<span>Kicker</span>Headline" shows as two lines, not as one word "KickerHeadline".)
    """
    if (
        len(renderings) > 1
        and _title_norm(renderings[0]) not in others
        and _title_norm(renderings[1]) in others
    ):
        return renderings[1]
    return renderings[0] if renderings else None


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _title_norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _site_match(part: str, site: str) -> bool:
    compact_part = re.sub(r"\W+", "", part)
    compact_site = re.sub(r"\W+", "", site)
    return bool(compact_part) and (
        compact_part == compact_site
        or compact_site in compact_part
        or (len(compact_part) >= 4 and compact_part in compact_site)
    )


def split_authors(raw: Sequence[str] | str | None) -> list[str]:
    """Names from "By A and B", "A, B", "A; B"; drops handles, URLs and duplicates."""
    if not raw:
        return []
    values = [raw] if isinstance(raw, str) else list(raw)
    names: list[str] = []
    seen: set[str] = set()
    for value in values:
        value = _AUTHOR_PREFIX_RE.sub("", " ".join(value.split()))
        for part in _AUTHOR_SPLIT_RE.split(value):
            name = _AUTHOR_PREFIX_RE.sub("", part.strip(" .·-\u2013\u2014"))
            if not name or _AUTHOR_NOISE_RE.search(name) or len(name) > 60 or len(name) < 3:
                continue
            key = re.sub(r"\W+", "", name.casefold())
            if key and key not in seen:
                seen.add(key)
                names.append(name)
    return names


def jsonld_authors(jsonld: Sequence[dict[str, Any]]) -> list[str]:
    for node in jsonld:
        raw = node.get("author")
        if raw is None:
            continue
        items = raw if isinstance(raw, list) else [raw]
        names: list[str] = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                if "organization" in _types(item):
                    continue
                names.append(item["name"])
            elif isinstance(item, str):
                names.append(item)
        if names:
            return split_authors(names)
    return []


def html_language(tree: HtmlElement, jsonld: Sequence[dict[str, Any]]) -> str | None:
    """ISO 639-1 code declared by <html lang>, content-language meta or JSON-LD inLanguage."""
    candidates: list[str] = [str(v) for v in tree.xpath("/html/@lang | /html/@xml:lang")]
    meta = _meta_values(tree)
    for key in ("content-language", "og:locale", "language", "dc.language"):
        if key in meta:
            candidates.append(meta[key])
    candidates.extend(
        str(node["inLanguage"]) for node in jsonld if isinstance(node.get("inLanguage"), str)
    )
    for value in candidates:
        code = re.split(r"[-_,;\s]", value.strip().lower(), maxsplit=1)[0]
        if len(code) == 2 and code.isalpha():
            return code
    return None


def canonical_url(tree: HtmlElement) -> str | None:
    for href in tree.xpath('//link[@rel="canonical"]/@href | //meta[@property="og:url"]/@content'):
        value = str(href).strip()
        if value.startswith(("http://", "https://")):
            return value
    return None


def utc_now() -> datetime:
    return datetime.now(UTC)
