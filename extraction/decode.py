"""Turn fetched HTML bytes into str the way browsers pick the character encoding."""

from __future__ import annotations

import codecs
import logging
import re

from charset_normalizer import from_bytes

logger = logging.getLogger(__name__)

# How far into the body the <meta charset> prescan looks; the HTML standard's prescan reads
# 1024 bytes, but real pages put long <script>/<link> blocks first, so look a little further.
META_PRESCAN_BYTES = 4096
# charset-normalizer's cost grows with input size and its verdict stops improving long before
# a whole page: a sample of this many bytes is enough.
DETECTION_SAMPLE_BYTES = 65536

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)

# WHATWG Encoding Standard labels Python does not know, or knows as a different (narrower)
# codec than the one browsers use: the declared label is a floor, browsers decode with the
# superset (latin-1 pages routinely contain cp1252 curly quotes, GB2312 pages GBK characters).
_LABEL_OVERRIDES: dict[str, str] = {
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "cp819": "cp1252",
    "ibm819": "cp1252",
    "iso-8859-9": "cp1254",
    "iso8859-9": "cp1254",
    "latin5": "cp1254",
    "l5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "dos-874": "cp874",
    "iso-8859-8-i": "iso8859-8",
    "csiso88598i": "iso8859-8",
    "logical": "iso8859-8",
    "gb2312": "gbk",
    "gb_2312": "gbk",
    "gb_2312-80": "gbk",
    "csgb2312": "gbk",
    "x-gbk": "gbk",
    "chinese": "gbk",
    "iso-ir-58": "gbk",
    "euc-kr": "cp949",
    "euc_kr": "cp949",
    "cseuckr": "cp949",
    "korean": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601-1989": "cp949",
    "ksc5601": "cp949",
    "ksc_5601": "cp949",
    "windows-949": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "ms_kanji": "cp932",
    "csshiftjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "ms932": "cp932",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "cn-big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "csbig5": "big5hkscs",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-ukrainian": "mac-cyrillic",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
    "mac": "mac-roman",
    "csmacintosh": "mac-roman",
    "x-user-defined": "cp1252",
}

# Python codec name -> the name we report (the WHATWG name a reader would recognise).
_REPORTED_NAMES: dict[str, str] = {
    "utf-8": "utf-8",
    "utf-16-be": "utf-16be",
    "utf-16-le": "utf-16le",
    "cp866": "ibm866",
    "koi8-r": "koi8-r",
    "koi8-u": "koi8-u",
    "mac-roman": "macintosh",
    "mac-cyrillic": "x-mac-cyrillic",
    "cp874": "windows-874",
    "gbk": "gbk",
    "gb18030": "gb18030",
    "big5hkscs": "big5",
    "euc_jp": "euc-jp",
    "iso2022_jp": "iso-2022-jp",
    "cp932": "shift_jis",
    "cp949": "euc-kr",
    **{f"cp125{i}": f"windows-125{i}" for i in range(9)},
    **{f"iso8859-{i}": f"iso-8859-{i}" for i in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)},
}
# Only the encodings of the WHATWG standard are honoured: Python also knows codecs such as
# utf-7 or unicode-escape that a hostile page could name to smuggle markup past filters.
_ALLOWED_CODECS = frozenset(_REPORTED_NAMES)

# Windows code pages leave a few bytes undefined; browsers map them to the C1 control with
# the same number instead of U+FFFD, so a round trip keeps them.
_SINGLE_BYTE_WINDOWS = frozenset(f"cp125{i}" for i in range(9)) | {"cp874"}

_META_CHARSET_RE = re.compile(
    rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9_.:()+-]+)""",
    re.IGNORECASE,
)
_HEADER_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:()+-]+)""", re.IGNORECASE)


def _c1_controls(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(byte) for byte in bad), error.end


codecs.register_error("newsarchive-c1", _c1_controls)


def normalize_charset(label: str | None, *, from_meta: bool = False) -> str | None:
    """Python codec name for an HTTP/HTML charset label, or None when it is unknown or unsafe."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    name = _LABEL_OVERRIDES.get(key)
    if name is None:
        try:
            name = codecs.lookup(key).name
        except LookupError:
            return None
        name = _LABEL_OVERRIDES.get(name, name)
    if name not in _ALLOWED_CODECS:
        # utf-16/utf-32 without a byte order are not web encodings either
        if name.startswith("utf-16") and from_meta:
            # HTML standard: a <meta> cannot truthfully declare UTF-16 (it was read as ASCII).
            return "utf-8"
        return None
    if from_meta and name.startswith("utf-16"):
        return "utf-8"
    return name


def reported_name(codec: str) -> str:
    return _REPORTED_NAMES.get(codec, codec)


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _HEADER_CHARSET_RE.search(content_type)
    return match.group(1) if match else None


def _decode(body: bytes, codec: str) -> str:
    errors = "newsarchive-c1" if codec in _SINGLE_BYTE_WINDOWS else "replace"
    return body.decode(codec, errors)


def _bom(body: bytes) -> tuple[str, int] | None:
    for mark, codec in _BOMS:
        if body.startswith(mark):
            return codec, len(mark)
    return None


def _meta_charset(body: bytes) -> str | None:
    head = body[:META_PRESCAN_BYTES]
    for match in _META_CHARSET_RE.finditer(head):
        codec = normalize_charset(match.group(1).decode("ascii", "replace"), from_meta=True)
        if codec is not None:
            return codec
    return None


def _detect(body: bytes) -> str | None:
    sample = body[:DETECTION_SAMPLE_BYTES]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as err:
        # Only a multi-byte sequence cut by the sampling at its very end is still UTF-8.
        if len(body) > len(sample) and err.start >= len(sample) - 3:
            return "utf-8"
    else:
        return "utf-8"
    best = from_bytes(sample).best()
    if best is None:
        return None
    return normalize_charset(best.encoding)


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (text, encoding_used) for an HTML body and its HTTP Content-Type header.

    Order: a byte order mark (the HTML standard puts it before the header, since a server
    default such as ISO-8859-1 is far more often wrong than a BOM), the charset of the HTTP
    Content-Type header, then <meta charset>/<meta http-equiv> in the first ~4 KB, then
    detection (strict UTF-8, then charset-normalizer), then UTF-8 with replacement.
    Unknown or unsafe charset names fall through to the next step; latin-1/iso-8859-1/us-ascii
    are read as windows-1252 as browsers do. Never raises on bad bytes.
    """
    bom = _bom(body)
    if bom is not None:
        codec, skip = bom
        return _decode(body[skip:], codec), reported_name(codec)
    declared = charset_from_content_type(content_type)
    codec_or_none = normalize_charset(declared)
    if declared and codec_or_none is None:
        logger.debug("ignoring unknown charset %r from the Content-Type header", declared)
    if codec_or_none is None:
        codec_or_none = _meta_charset(body)
    if codec_or_none is None:
        codec_or_none = _detect(body)
    codec = codec_or_none or "utf-8"
    return _decode(body, codec), reported_name(codec)
