"""Generic line filters applied to trafilatura's text: boilerplate that survives its cleaning.

Every rule here is layout-generic (phrases and shapes seen across many publishers and
languages), never tied to one site; per-site fixes belong in the site YAML (drop_xpaths).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

_WORD_RE = re.compile(r"\w+")

# Lines that are a call to action or a pointer elsewhere, never article prose. Matched at the
# start of a short line only: "Read more about the budget in our explainer." style sentences
# inside the body are longer than MAX_WIDGET_TOKENS or do not start with the phrase.
_WIDGET_PREFIXES = (
    # English
    "share on",
    "share this",
    "share article",
    "share via",
    "follow us",
    "follow our",
    "subscribe",
    "sign up",
    "sign in",
    "log in",
    "read more",
    "read next",
    "read also",
    "also read",
    "see also",
    "related",
    "recommended",
    "more from",
    "more on this",
    "most read",
    "most popular",
    "you may also like",
    "you might also like",
    "don't miss",
    "watch:",
    "listen:",
    "advertisement",
    "article content",
    "get the latest",
    "click here",
    "brought to you by",
    # the fallback text of an old page's video player
    "get the flash player",
    "get adobe flash player",
    "you need to upgrade your flash player",
    "you need flash player",
    "please enable javascript",
    "copy link",
    "comments",
    "join the conversation",
    # German
    "lesen sie auch",
    "lesen sie mehr",
    "mehr zum thema",
    "mehr zu",
    "auch interessant",
    "das könnte sie auch interessieren",
    "das könnte dich auch interessieren",
    "weitere artikel",
    "weiterlesen",
    "zum artikel",
    "zum thema",
    "teilen",
    "folgen sie",
    "abonnieren",
    "anzeige",
    "werbung",
    "empfohlener redaktioneller inhalt",
    "hauptinhalt",
    # French
    "lire aussi",
    "à lire aussi",
    "a lire aussi",
    "lire la suite",
    "partager",
    "suivez-nous",
    "abonnez-vous",
    "sur le même sujet",
    # Spanish / Portuguese / Italian
    "leer más",
    "lee también",
    "lea también",
    "te puede interesar",
    "compartir",
    "síguenos",
    "suscríbete",
    "leia também",
    "leia mais",
    "leggi anche",
    "condividi",
    # Dutch / Scandinavian / Turkish
    "lees ook",
    "lees meer",
    "les også",
    "läs också",
    "læs også",
    "ilgili haberler",
    "paylaş",
    # Arabic: "read also", "topics you may like", "share", "follow us", "related"
    "اقرأ أيضا",
    "اقرأ أيضاً",
    "إقرأ أيضا",
    "إقرأ أيضاً",
    "اقرأ المزيد",
    "مواضيع قد تعجبك",
    "قد يعجبك أيضا",
    "مواضيع ذات صلة",
    "أخبار ذات صلة",
    "شارك",
    "تابعونا",
    "تابعنا",
)
# Headings that open a box of teaser links ("topics you may like"): the heading and the run
# of headline-shaped lines under it go together.
_RELATED_HEADINGS = (
    "related",
    "related stories",
    "related articles",
    "related news",
    "more from",
    "more stories",
    "more news",
    "read more",
    "read next",
    "recommended",
    "you may also like",
    "you might also like",
    "most read",
    "most popular",
    "popular",
    "trending",
    "auch interessant",
    "das könnte sie auch interessieren",
    "mehr zum thema",
    "lesen sie auch",
    "weitere artikel",
    "meistgelesen",
    "lire aussi",
    "sur le même sujet",
    "te puede interesar",
    "leggi anche",
    "مواضيع قد تعجبك",
    "قد يعجبك أيضا",
    "مواضيع ذات صلة",
    "أخبار ذات صلة",
    "اقرأ أيضا",
    "اقرأ أيضاً",
    "الأكثر قراءة",
)
MAX_WIDGET_TOKENS = 14
MAX_TEASER_TOKENS = 25
#: A line of the same text twice is a card's title (dropped) up to this many words; longer, it
#: is an article printed twice (kept once).
MAX_DOUBLED_CARD_TOKENS = 2 * MAX_TEASER_TOKENS

# Photo credits and copyright lines: captions and credits are not article text.
_CREDIT_RE = re.compile(
    r"^(?:©|\(c\)\s|copyright\b|foto(?:s)?\s*:|bild(?:er)?\s*:|photo(?:s|graph)?\s*:|image\s*:"
    r"|picture\s*:|credit(?:s)?\s*:|quelle\s*:|source\s*:|fuente\s*:|crédit(?:s)?\s*:"
    r"|getty images|reuters/|imago\b|dpa-infocom|صورة\s*:|المصدر\s*:)",
    re.IGNORECASE,
)
# A caption whose credit trails it ("... Bild: Jane Doe", "... Photo: AP"); the tail is short.
_TRAILING_CREDIT_RE = re.compile(
    r"(?:\bbild|\bfoto|\bphoto|\bimage|\bcredit|\bquelle)\s*:\s*[^.!?]{2,60}$|©\s*[^.!?]{2,60}$",
    re.IGNORECASE,
)
# Legal notices of the page footer ("© owned by or licensed to ... 2008. icScotland™ is a
# trade mark of ...", "Copyright 2007 The Associated Press. All rights reserved. This material
# may not be published ..."). Old table layouts put them in the article's cell, so trafilatura
# keeps them. Some wordings only ever appear in a notice; others also in reporting ("changed
# its privacy policy", "trademarks were infringed"), so they count only beside a copyright
# mark or a notice's wording. A bare "copyright" is a word of prose, "Copyright 2007" a mark.
# These three are matched against the line in lower case: without re.IGNORECASE a search is
# three times faster, and they run on every line of every page.
_COPYRIGHT_MARK_RE = re.compile(
    r"©|\(c\)\s*(?:19|20)\d\d|\bcopyright\s*(?:©|\(c\)\s*)?(?:19|20)\d\d"
)
_NOTICE_RE = re.compile(
    r"all rights reserved|may not be (?:re)?(?:published|reproduced|broadcast|rewritten"
    r"|redistributed|copied)|reproduction (?:or reuse )?(?:in whole or in part )?(?:is )?"
    r"prohibited|alle rechte vorbehalten|tous droits réservés|todos los derechos reservados"
    r"|tutti i diritti riservati|جميع الحقوق محفوظة"
    # a site's own terms: "Please read our Privacy Policy", "To inquire about a licence to
    # reproduce material from ...", "Comments are moderated by our editors"
    r"|(?:read|see|review|view) our (?:privacy|cookie|terms)"
    r"|licen[cs]e to reproduce material from|comments (?:are|will be) moderated"
    r"|prohibited without (?:the )?(?:prior )?(?:express )?(?:written )?(?:consent|permission)"
    r"|use of this (?:web ?)?site (?:is subject to|constitutes)"
    r"|by using this (?:web ?)?site,? you agree|reserve the right to (?:remove|delete|edit)"
    # the print edition's note: "This article appeared on page D - 7 of the ... Chronicle"
    r"|^\W*this (?:article|story) (?:was (?:originally |first )?published|appeared|ran) on page"
)
_LEGAL_TERMS_RE = re.compile(
    r"terms (?:of (?:use|service)|and conditions|& conditions)|privacy (?:policy|statement)"
    r"|trade ?marks?\b|licen[cs]ed to"
)
#: A legal notice is at most this long (words); longer lines are an article's text joined with
#: its footer, kept whole ...
MAX_LEGAL_NOTICE_TOKENS = 80
#: ... and at most this long when a notice's wording is all it has (no mark, no other term).
#: Tuned on the tuning halves (60-100 and 20-40 change the same pages).
MAX_BARE_LEGAL_NOTICE_TOKENS = 30
# Agency signatures and reporting notes closing a story: "(dpa)", "mit dpa", "(dmk)",
# "With files from The Associated Press".
_SIGNATURE_RE = re.compile(
    r"^(?:\(\w{1,12}(?:[/,]\s*\w{1,12})*\)\.?"
    r"|mit (?:material von )?(?:dpa|afp|reuters|ap|kna|epd)\b.*"
    r"|with (?:files|reporting|reports) (?:from|by)\b.*|additional reporting (?:by|from)\b.*"
    r"|mit agenturmaterial\.?|avec (?:afp|reuters|ap)\.?)$",
    re.IGNORECASE,
)
# Bylines: "By Jane Doe", "Von Max Muster, Berlin", "Par ...", "Por ...", "بقلم".
_BYLINE_RE = re.compile(r"^(?:by|von|par|por|di|door|av|af|bởi|بقلم|كتب)\s+\S", re.IGNORECASE)
MAX_BYLINE_TOKENS = 8

# Words a dateline or timestamp line is made of (weekdays, months, "updated"...), in the
# languages of the dev set plus Arabic; a line of only these, digits and separators is a date.
_DATE_WORDS = frozenset(
    " ".join(
        (
            "monday tuesday wednesday thursday friday saturday sunday",
            "mon tue tues wed thu thur thurs fri sat sun",
            "january february march april may june july august september october november december",
            "jan feb mar apr jun jul aug sep sept oct nov dec",
            "am pm a m p gmt utc bst cet cest est edt pst pdt",
            "updated published posted last modified on at min mins minutes read h hrs ago",
            "created hour hours day days week weeks et pt ct cst cdt mst mdt comment comments",
            # an agency's name before its timestamp: "Associated Press - January 2, 2008 7:33 AM"
            "associated press reuters afp dpa ap",
            "montag dienstag mittwoch donnerstag freitag samstag sonntag",
            "januar jänner februar märz mai juni juli oktober dezember",
            "uhr stand aktualisiert veröffentlicht am um vor minuten stunden",
            "lundi mardi mercredi jeudi vendredi samedi dimanche",
            "janvier février fevrier mars avril juin juillet août aout septembre octobre",
            "novembre décembre decembre publié mis à jour le à",
            "lunes martes miércoles jueves viernes sábado domingo",
            "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre",
            "diciembre actualizado publicado de del",
            "lunedì martedì mercoledì giovedì venerdì sabato domenica",
            "gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre",
            "aggiornato pubblicato il",
            # Turkish: the dotless i is the real letter of these words
            "pazartesi salı çarşamba perşembe cuma cumartesi pazar",  # noqa: RUF001
            "ocak şubat mart nisan mayıs haziran temmuz ağustos eylül ekim kasım aralık",  # noqa: RUF001
            "güncelleme",
            "الاثنين الإثنين الثلاثاء الأربعاء الخميس الجمعة السبت الأحد",
            "يناير فبراير مارس أبريل إبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر",
            "كانون شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين الأول الثاني",
            "صباحا مساء ص م منذ ساعة دقيقة دقائق ساعات آخر تحديث نشر في",
        )
    ).split()
)
# CJK date/time characters (年 year, 月 month, 日 day, 時 hour, 分 minute, 更新 updated...).
_CJK_DATE_CHARS = frozenset("年月日時时分秒更新午前後后配信公開掲載")
MAX_DATELINE_TOKENS = 12

# Leaked JavaScript/JSON config rendered as list items ("- showPaywall:", "- false").
_CONFIG_LEAK_RE = re.compile(r"^-?\s*(?:true|false|null|undefined|[a-z]+[A-Z]\w*\s*:)\s*$")
# The signature line of an embedded tweet: "— Name (@handle) April 25, 2024".
_TWEET_SIGNATURE_RE = re.compile(
    r"^[\u2014\u2013-]\s*.{1,80}\(@\w{1,30}\)\s+\w+\s+\d{1,2},\s+\d{4}$"
)
# Paywall / metered-access notices: they also set Article.paywalled.
PAYWALL_RE = re.compile(
    r"(?:il vous reste \d+(?:[.,]\d+)?\s?% de cet article"
    r"|la suite est réservée aux abonnés"
    r"|subscribe (?:now )?to (?:continue|keep) reading"
    r"|this (?:article|content) is (?:only available|exclusive) (?:to|for) (?:subscribers|members)"
    r"|to continue reading,? (?:please )?(?:subscribe|log in|sign in)"
    r"|already a subscriber\?"
    # an archive's abstract page: "The full article contains 259 words and appears in ..."
    r"|the full (?:article|text|story) (?:contains|has) \d+ words"
    r"|jetzt (?:weiterlesen|abonnieren|freischalten)"
    r"|(?:dieser|der) artikel ist (?:nur )?für abonnenten"
    r"|weiterlesen mit \w*\s?(?:plus|abo)"
    r"|contenido exclusivo para suscriptores"
    r"|este contenido es exclusivo para"
    r"|hai letto \d+ articoli"
    r"|للمشتركين فقط|この記事は会員限定です)",
    re.IGNORECASE,
)
# A notice is a short line of its own (16 words at most on the dev sets); a long paragraph
# using such words is prose, and searching every paragraph for them cost 0.6 ms a page.
MAX_PAYWALL_TOKENS = 60
_NEWSLETTER_RE = re.compile(
    r"newsletter|in your inbox|in ihr postfach|dans votre boîte|en tu bandeja", re.IGNORECASE
)
MAX_NEWSLETTER_TOKENS = 40

# "READ MORE: <headline>", "Lesen Sie auch: ...", "Sendung: ...": a pointer label and a colon.
_POINTER_RE = re.compile(
    r"^(?:read more|also read|read also|read next|more|see also|related|watch|listen|video"
    r"|lesen sie auch|lesen sie mehr|mehr zum thema|mehr dazu|auch lesen|sendung"
    r"|dieses thema im programm"
    r"|lire aussi|à lire aussi|a lire aussi|voir aussi|leer más|lee también|lea también|ver también"
    r"|leggi anche|leia também|lees ook|les også|læs også|läs också|ilgili haber"
    r"|اقرأ أيضا|اقرأ أيضاً|إقرأ أيضا|إقرأ أيضاً|اقرأ المزيد)\s*:",
    re.IGNORECASE,
)
MAX_POINTER_TOKENS = 30
# "Follow X on Twitter and Facebook ...": social-network call to action.
_SOCIAL_RE = re.compile(
    r"^(?:follow|folgen sie|suivez|síguenos|seguici|تابعونا|تابعنا)\b.*"
    r"\b(?:twitter|facebook|instagram|google news|whatsapp|telegram|tiktok|linkedin|threads"
    r"|bluesky|youtube|x)\b",
    re.IGNORECASE,
)
MAX_SOCIAL_TOKENS = 40
# Placeholders of blocked embeds and consent widgets ("Externer Inhalt", "Ein Klick für den
# Datenschutz", "enable JavaScript"): the page's text when third-party content is off.
_CONSENT_RE = re.compile(
    r"externe[nrs]? inhalt|privatsphäre-einstellungen|ein klick für den datenschutz"
    r"|enable javascript|javascript is disabled|aktivieren sie javascript"
    r"|cookie (?:settings|einstellungen|preferences)|consent to (?:the use of )?cookies"
    r"|you must confirm your public display name|join our commenting forum",
    re.IGNORECASE,
)
MAX_CONSENT_TOKENS = 60
# Picture-agency credits standing alone ("STR/AFP via Getty Images", "Foto: dpa").
_AGENCY_RE = re.compile(
    r"getty ?images|\bafp\b|reuters|\bdpa\b|imago|shutterstock|picture[- ]alliance|istock"
    r"|ap photo|\bepa\b|keystone|unsplash|pexels",
    re.IGNORECASE,
)
MAX_AGENCY_CREDIT_TOKENS = 10
# Short first lines (a kicker or section label: "World", "FAQ") sit above the body.
MAX_KICKER_TOKENS = 2
# A run of at least this many headline-shaped list items is a teaser list, not an article list.
MIN_TEASER_LIST_RUN = 3
MAX_LIST_TEASER_TOKENS = 18
# ... of which at least this share are link text on the page, where the links are known.
# Without it the rule dropped the article's own lists (how-tos, recaps, survey findings) on
# 48 extraction-dev2 tuning pages: F1 +0.0025, no extraction-dev page changes.
MIN_LINKED_TEASERS = 0.5
# A line of trafilatura's table output has a bar before and after each cell.
TABLE_ROW_MIN_BARS = 2
# A table cell this long (tokens) is prose (an article laid out in a table), not chrome.
MIN_TABLE_PROSE_TOKENS = 12
# An author bio names its author within this many characters of its start.
AUTHOR_BOX_NAME_WITHIN = 40
# Share of a top line's words that must come from the headline to call it a headline variant.
HEADLINE_OVERLAP = 0.7


# The page's tags and categories as a line ("Tags: Ford, hybrids", "by Staff, Filed under:
# Celebrity, Events"): metadata, not text (the record's tags come from the page's markup).
_TAXONOMY_RE = re.compile(
    r"^(?:tags?|tagged|tagged with|filed (?:under|in)|posted in|categor(?:y|ies)|keywords"
    r"|schlagw(?:orte|örter)|stichw(?:orte|örter)|mots[- ]cl[ée]s|etiquetas|palabras clave)\s*:"
    r"|\bfiled under\s*:",
    re.IGNORECASE,
)
MAX_TAXONOMY_TOKENS = 40


# A wire story's closing credits in parentheses: "(Reporting by Adrian Croft, Editing by Luke
# Baker)", "(Additional reporting by ...; Writing by ...)".
_REPORTING_CREDIT_RE = re.compile(
    r"^\((?:additional )?(?:reporting|writing|editing|compiled|edited|written)\s+by\b[^()]*\)\.?$",
    re.IGNORECASE,
)
# An author's contact line: "John Harris can be reached at jharris@example.com or 412-481-5432."
_CONTACT_RE = re.compile(r"\b(?:can|may) be (?:reached|contacted) (?:at|by|on)\b", re.IGNORECASE)
MAX_CREDIT_LINE_TOKENS = 40


# Reader comments signed line by line ("Posted by: NAME | Mar 20, 2007 10:19 PM", "Posted by NAME
# on January 10, 2008 5:58 PM"): blog and newspaper comment systems of the 2000s whose markup
# trafilatura's comment filter does not recognise. A run of such signatures, each within a few
# lines of the next and closing the text, is a comment thread; it and everything after it is
# left out. The date is required: a live blog signs its entries "Posted by NAME at 10:32", and
# those are the article.
_COMMENT_SIGNATURE_RE = re.compile(
    r"^(?:(?:posted|submitted|comment(?:ed)?|repl(?:y|ied))\s+by"
    r"|(?:posté|publié|écrit|envoyé)\s+par|(?:geschrieben|verfasst|gepostet)\s+von"
    r"|(?:publicado|escrito|enviado)\s+por|(?:pubblicato|scritto|inviato)\s+da"
    r"|geplaatst\s+door)\b",
    re.I,
)
_SIGNED_DATE_RE = re.compile(
    r"\b(?:(?:19|20)\d{2}|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I
)
# The thread's heading, when it sits just above the first signed comment.
_COMMENTS_HEADING_RE = re.compile(
    r"^(?:\d+\s+)?(?:comments?|responses?|replies|reader comments|your comments|have your say"
    r"|(?:leave|post|add) a (?:comment|reply))\b.{0,30}$",
    re.I,
)
MAX_COMMENT_SIGNATURE_TOKENS = 25
# Tuned on the tuning halves: 2-4 signatures and gaps of 8-20 lines change the same pages.
MIN_COMMENT_SIGNATURES = 3
MAX_COMMENT_GAP_LINES = 12
# A thread is cut only below an article: a page that is mostly signed posts is a forum or a
# blog's index, not an article followed by its comments.
MIN_WORDS_ABOVE_COMMENTS = 50


# Every rule tokenises and normalises the same line again: cached, so each is done once per line.
# A page's lines (and their stripped and case-folded forms) fit.
_LINE_CACHE = 1024


@lru_cache(maxsize=_LINE_CACHE)
def normalise(text: str) -> str:
    """A line's words, NFKC and case-folded, single-spaced: how lines are compared."""
    return " ".join(_WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold()))


_norm = normalise


@lru_cache(maxsize=_LINE_CACHE)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_WORD_RE.findall(text))


_WIDGET_NORM = frozenset(_norm(p) for p in _WIDGET_PREFIXES)
_WIDGET_MAX_WORDS = max(len(p.split()) for p in _WIDGET_NORM)
_RELATED_NORM = frozenset(_norm(p) for p in _RELATED_HEADINGS)


def is_widget_line(line: str) -> bool:
    tokens = _tokens(line)
    if not tokens or len(tokens) > MAX_WIDGET_TOKENS:
        return False
    # the line starts with a prefix's words: look its first words up, not every prefix
    words = " ".join(tokens).casefold().split(" ")
    return any(
        " ".join(words[:count]) in _WIDGET_NORM
        for count in range(1, min(len(words), _WIDGET_MAX_WORDS) + 1)
    )


def is_related_heading(line: str) -> bool:
    return _norm(line).rstrip(": ") in _RELATED_NORM


def is_dateline(line: str) -> bool:
    """A line made of dates, times and date words only ("Tuesday: 17 February 2026", "13:15")."""
    stripped = line.strip()
    if not stripped:
        return False
    tokens = _tokens(stripped.casefold())
    # the token count first: it is cached, the digit scan is not
    if len(tokens) > MAX_DATELINE_TOKENS or not any(ch.isdigit() for ch in stripped):
        return False
    for token in tokens:
        rest = "".join(ch for ch in token if not ch.isdigit() and ch not in _CJK_DATE_CHARS)
        if rest and rest not in _DATE_WORDS and not (len(rest) <= 2 and token[0].isdigit()):
            # "17th", "3h", "5min" keep a short unit after the digits
            return False
    return True


def is_credit_line(line: str) -> bool:
    stripped = line.strip()
    if _CREDIT_RE.match(stripped) and len(_tokens(stripped)) <= 20:
        return True
    return len(_tokens(stripped)) <= 60 and bool(_TRAILING_CREDIT_RE.search(stripped))


def is_legal_notice(line: str) -> bool:
    """A footer's copyright, rights or terms notice."""
    folded = line.lower()
    notices = len(_NOTICE_RE.findall(folded))
    if not notices and _LEGAL_TERMS_RE.search(folded) is None:
        return False
    tokens = len(_tokens(line))
    if tokens > MAX_LEGAL_NOTICE_TOKENS:
        return False
    marked = _COPYRIGHT_MARK_RE.search(folded) is not None
    if notices:
        return (
            marked
            # two of a notice's wordings ("All rights reserved. ... prohibited without consent")
            or notices > 1
            or tokens <= MAX_BARE_LEGAL_NOTICE_TOKENS
            or _LEGAL_TERMS_RE.search(folded) is not None
        )
    return marked


def is_taxonomy_line(line: str) -> bool:
    return len(_tokens(line)) <= MAX_TAXONOMY_TOKENS and bool(_TAXONOMY_RE.search(line.strip()))


def is_closing_credit(line: str) -> bool:
    """A wire story's reporting credits, or its author's contact line."""
    stripped = line.strip()
    if len(_tokens(stripped)) > MAX_CREDIT_LINE_TOKENS:
        return False
    return bool(_REPORTING_CREDIT_RE.match(stripped)) or (
        "@" in stripped and bool(_CONTACT_RE.search(stripped))
    )


def is_signature_line(line: str) -> bool:
    return len(_tokens(line)) <= 15 and bool(_SIGNATURE_RE.match(line.strip()))


def is_byline(line: str, authors: Sequence[str]) -> bool:
    stripped = line.strip()
    # a timestamp and the byline on one line: "1/10/2008, 6:07 a.m. EST By DOUG FERGUSON The
    # Associated Press", "Jan 14 2008 by Andy Howell, Western Mail"
    dated, by, byline = stripped.partition(" By " if " By " in stripped else " by ")
    if by and is_dateline(dated) and is_byline(f"By {byline}", authors):
        return True
    tokens = _tokens(line)
    if not tokens or len(tokens) > MAX_BYLINE_TOKENS:
        return False
    if _BYLINE_RE.match(stripped):
        return True
    norm = " ".join(tokens).casefold()
    for author in authors:
        name = _norm(author)
        # the line is the author's name, maybe with a role or place ("Jane Doe, Berlin")
        if name and (
            norm == name or (norm.startswith(name) and len(tokens) <= len(name.split()) + 3)
        ):
            return True
    return False


def is_newsletter_line(line: str) -> bool:
    return len(_tokens(line)) <= MAX_NEWSLETTER_TOKENS and bool(_NEWSLETTER_RE.search(line))


def is_teaser_line(line: str) -> bool:
    """Headline-shaped: short, no closing sentence punctuation (teaser link titles)."""
    stripped = line.strip().lstrip("-•·*> ").strip()
    tokens = _tokens(stripped)
    if not tokens or len(tokens) > MAX_TEASER_TOKENS:
        return False
    return not stripped.endswith((".", "!", ":", ";", ",", "…", '."', ".”", ".»", "。", "؛", "،"))


def is_pointer_line(line: str) -> bool:
    return len(_tokens(line)) <= MAX_POINTER_TOKENS and bool(_POINTER_RE.match(line.strip()))


def is_social_line(line: str) -> bool:
    return len(_tokens(line)) <= MAX_SOCIAL_TOKENS and bool(_SOCIAL_RE.match(line.strip()))


def is_consent_line(line: str) -> bool:
    return len(_tokens(line)) <= MAX_CONSENT_TOKENS and bool(_CONSENT_RE.search(line))


def is_agency_credit(line: str) -> bool:
    stripped = line.strip()
    return (
        len(_tokens(stripped)) <= MAX_AGENCY_CREDIT_TOKENS
        and not stripped.endswith((".", "!", "?", ":"))
        and ("/" in stripped or " via " in stripped.casefold() or stripped.isupper())
        and bool(_AGENCY_RE.search(stripped))
    )


def _twice(tokens: Sequence[str]) -> bool:
    """Whether `tokens` are one run of words written twice."""
    half = len(tokens) // 2
    return len(tokens) % 2 == 0 and tokens[:half] == tokens[half:]


def is_doubled(line: str) -> bool:
    """A card's title rendered twice ("Title Title": visible text plus a screen-reader label)."""
    tokens = _tokens(line.casefold())
    return 4 <= len(tokens) <= MAX_DOUBLED_CARD_TOKENS and _twice(tokens)


def undoubled(line: str) -> str:
    """A long line that is the same text twice, once; any other line as it is.

    Old table layouts join a whole story into one line, and some print it twice (the page and
    its printable copy): one copy is the article, where a doubled card title is chrome.
    """
    words = list(_WORD_RE.finditer(line))
    if len(words) <= MAX_DOUBLED_CARD_TOKENS or not _twice([w.group().casefold() for w in words]):
        return line
    return line[: words[len(words) // 2].start()].rstrip()


def is_headline_variant(line: str, titles: Sequence[str]) -> bool:
    """The headline again, maybe with a kicker ("49-Euro-Ticket: ...") or a different wording."""
    words = _tokens(line.casefold())
    if not words or len(words) > 40:
        return False
    norm = " ".join(words)
    for title in titles:
        title_words = _tokens(title.casefold())
        if not title_words:
            continue
        title_norm = " ".join(title_words)
        if norm == title_norm or (
            len(title_words) >= 3 and title_norm in norm and len(words) <= 2 * len(title_words)
        ):
            return True
        if len(words) >= 4 and norm in title_norm:
            return True
        overlap = len(set(words) & set(title_words)) / len(set(words))
        if overlap >= HEADLINE_OVERLAP and len(words) <= len(title_words) + 6:
            return True
    return False


def is_author_box(line: str, authors: Sequence[str]) -> bool:
    """A closing author bio ("Jane Doe covers politics ..."): names the author, sits at the end.

    The name opens the bio (or follows a short label): a closing paragraph that only mentions a
    byline's name further in ("... Google News users.") is prose.
    """
    folded = line.casefold()
    return any(
        len(author.split()) >= 2 and 0 <= folded.find(author.casefold()) <= AUTHOR_BOX_NAME_WITHIN
        for author in authors
    )


def _list_item(line: str) -> bool:
    return line.lstrip().startswith(("- ", "• ", "* ", "> "))


def _teaser_list_runs(lines: Sequence[str], is_link: Callable[[str], bool] | None) -> set[int]:
    """Indexes of runs of headline-shaped list items (related-story link lists). With `is_link`
    (whether a line is link text on the page), most of a run's items must be links: a list of
    short items that are not links is the article's own (tips, findings, ingredients)."""
    drop: set[int] = set()
    run: list[int] = []
    for index, line in enumerate([*lines, ""]):
        if (
            line
            and _list_item(line)
            and is_teaser_line(line)
            and len(_tokens(line)) <= MAX_LIST_TEASER_TOKENS
        ):
            run.append(index)
            continue
        if len(run) >= MIN_TEASER_LIST_RUN and (
            is_link is None
            or sum(1 for i in run if is_link(lines[i])) >= MIN_LINKED_TEASERS * len(run)
        ):
            drop.update(run)
        run = []
    return drop


def comment_thread_start(lines: Sequence[str]) -> int | None:
    """Index of the first line of the signed comment thread closing `lines`, if there is one."""
    signed = [
        index
        for index, line in enumerate(lines)
        if len(_tokens(line)) <= MAX_COMMENT_SIGNATURE_TOKENS
        and _COMMENT_SIGNATURE_RE.match(line.strip())
        and _SIGNED_DATE_RE.search(line)
    ]
    # the thread closes the text ...
    if len(signed) < MIN_COMMENT_SIGNATURES or len(lines) - signed[-1] > MAX_COMMENT_GAP_LINES:
        return None
    # ... and starts at the first run of signatures close together (an article's own
    # "Posted by" sits further up; a long comment may part later ones)
    need = MIN_COMMENT_SIGNATURES - 1
    first = next(
        (
            index
            for index in range(len(signed) - need)
            if all(
                signed[i + 1] - signed[i] <= MAX_COMMENT_GAP_LINES
                for i in range(index, index + need)
            )
        ),
        None,
    )
    if first is None:
        return None
    start = signed[first]
    for index in range(start - 1, max(start - MAX_COMMENT_GAP_LINES, 0) - 1, -1):
        if _COMMENTS_HEADING_RE.match(lines[index].strip()):
            start = index
            break
    if sum(len(_tokens(line)) for line in lines[:start]) < MIN_WORDS_ABOVE_COMMENTS:
        return None
    return start


def table_row_prose(line: str) -> list[str]:
    """A table row as trafilatura writes it ("| a | b |"): only its cells of prose.

    Old pages lay out the whole page in tables, so a row mixes the article's text with
    navigation, rates and dates; short cells are that chrome. A row without a prose cell is a
    data table's, and goes too (the dev sets' gold texts keep no table cells).
    """
    stripped = line.strip()
    if not (stripped.startswith("|") and stripped.count("|") >= TABLE_ROW_MIN_BARS):
        return [line]
    cells = [" ".join(cell.split()) for cell in stripped.strip("|").split("|")]
    return [cell for cell in cells if len(_tokens(cell)) >= MIN_TABLE_PROSE_TOKENS]


def same_text(a: str, b: str) -> bool:
    return bool(a) and _norm(a) == _norm(b)


def clean_lines(
    lines: Iterable[str],
    *,
    titles: Sequence[str] = (),
    authors: Sequence[str] = (),
    comments: bool = False,
    is_link: Callable[[str], bool] | None = None,
) -> tuple[list[str], bool]:
    """Drop boilerplate lines (and reader comments, unless `comments`); return (kept lines,
    paywall notice seen). `is_link` tells whether a line is link text on the page."""
    source = [undoubled(cell) for line in lines for cell in table_row_prose(line.rstrip())]
    source = [line for line in source if line.strip()]
    thread = None if comments else comment_thread_start(source)
    if thread is not None:
        source = source[:thread]
    titles = [t for t in titles if t and t.strip()]
    teaser_lists = _teaser_list_runs(source, is_link)
    kept: list[str] = []
    paywall = False
    seen: set[str] = set()
    in_related = False
    last = len(source) - 1
    for index, line in enumerate(source):
        norm = _norm(line)
        if in_related:
            # the teaser list under a "related" heading ends at the first prose-like line
            if is_teaser_line(line):
                continue
            in_related = False
        if not norm or index in teaser_lists:
            # only punctuation/symbols ("___", "•"): separators
            continue
        if index < 3 and (
            is_headline_variant(line, titles)
            or (not kept and len(norm.split()) <= MAX_KICKER_TOKENS)
        ):
            # the headline repeated above the body (stored separately), or a kicker label
            continue
        if is_related_heading(line):
            in_related = True
            continue
        if len(_tokens(line)) <= MAX_PAYWALL_TOKENS and PAYWALL_RE.search(line):
            paywall = True
            continue
        if (
            is_widget_line(line)
            or is_pointer_line(line)
            or is_social_line(line)
            or is_consent_line(line)
            or is_dateline(line)
            or is_credit_line(line)
            or is_legal_notice(line)
            or is_agency_credit(line)
            or is_signature_line(line)
            or is_taxonomy_line(line)
            or is_closing_credit(line)
            or is_doubled(line)
            or _CONFIG_LEAK_RE.match(line.strip())
            or _TWEET_SIGNATURE_RE.match(line.strip())
            or is_newsletter_line(line)
            or ((index < 6 or index >= last - 2) and is_byline(line, authors))
            or (index >= last - 2 and index > 2 and is_author_box(line, authors))
        ):
            continue
        if len(norm) > 30 and norm in seen:
            # a paragraph repeated verbatim (teaser and body, mobile and desktop copies)
            continue
        seen.add(norm)
        kept.append(line)
    return kept, paywall
