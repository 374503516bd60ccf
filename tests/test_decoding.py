"""decode_html: charset from header, BOM, <meta>, detection; legacy encodings round-trip exactly."""

from __future__ import annotations

import codecs

import pytest

from newsarchive.extraction.decode import decode_html

ARABIC = "مكتبة عامة جديدة في وسط المدينة"
RUSSIAN = "Съешь же ещё этих мягких французских булок, да выпей чаю"
JAPANESE = "日本語のニュース記事です。東京で会議が開かれました。"
KOREAN = "서울에서 새로운 도서관이 문을 열었습니다"
CHINESE = "北京今天召开了新闻发布会"
FRENCH = "Élève à l'école, déjà très heureux"
POLISH = "Zażółć gęślą jaźń, Łódź i Kraków"
TURKISH = "Türkiye'de şarj istasyonu sayısı ğüşiöç İstanbul"  # noqa: RUF001  # Turkish dotless i
EURO = "Prix: 5 € — Œuvre"


def page(text: str, head: str = "") -> str:
    return f"<html><head>{head}<title>t</title></head><body><p>{text}</p></body></html>"


@pytest.mark.parametrize(
    ("text", "codec", "head", "content_type", "expected_encoding"),
    [
        (ARABIC, "cp1256", '<meta charset="windows-1256">', None, "windows-1256"),
        (RUSSIAN, "cp1251", '<meta charset="windows-1251">', None, "windows-1251"),
        (
            RUSSIAN,
            "koi8-r",
            '<meta http-equiv="Content-Type" content="text/html; charset=KOI8-R">',
            None,
            "koi8-r",
        ),
        (JAPANESE, "shift_jis", '<meta charset="Shift_JIS">', None, "shift_jis"),
        (KOREAN, "euc-kr", '<meta charset="EUC-KR">', None, "euc-kr"),
        (CHINESE, "gb2312", '<meta charset="gb2312">', None, "gbk"),
        (FRENCH, "iso-8859-1", '<meta charset="ISO-8859-1">', None, "windows-1252"),
        (POLISH, "iso-8859-2", '<meta charset="iso-8859-2">', None, "iso-8859-2"),
        (TURKISH, "iso-8859-9", '<meta charset="iso-8859-9">', None, "windows-1254"),
        (
            EURO.replace(" — ", " "),
            "iso-8859-15",
            '<meta charset="iso-8859-15">',
            None,
            "iso-8859-15",
        ),
        # charset only in the HTTP header
        (RUSSIAN, "cp1251", "", "text/html; charset=windows-1251", "windows-1251"),
        (JAPANESE, "euc-jp", "", 'text/html; charset="EUC-JP"', "euc-jp"),
        # the header beats a wrong <meta>
        (RUSSIAN, "koi8-r", '<meta charset="utf-8">', "text/html;charset=koi8-r", "koi8-r"),
        # a bogus header charset falls through to <meta>
        (
            ARABIC,
            "cp1256",
            '<meta charset="windows-1256">',
            "text/html; charset=foo-99",
            "windows-1256",
        ),
        # no declaration at all: valid UTF-8 is recognised
        (JAPANESE, "utf-8", "", None, "utf-8"),
        (ARABIC, "utf-8", "", "text/html", "utf-8"),
    ],
)
def test_declared_and_detected_charsets(
    text: str, codec: str, head: str, content_type: str | None, expected_encoding: str
) -> None:
    html = page(text, head)
    decoded, encoding = decode_html(html.encode(codec), content_type)
    assert decoded == html
    assert encoding == expected_encoding


def test_latin1_declaration_decodes_windows_1252_quotes() -> None:
    # Browsers read ISO-8859-1 as windows-1252: 0x93/0x94 are curly quotes, not C1 controls.
    body = b'<meta charset="iso-8859-1"><p>\x93Caf\xe9\x94 \x80 5</p>'
    decoded, encoding = decode_html(body)
    assert decoded == '<meta charset="iso-8859-1"><p>\u201cCafé\u201d \u20ac 5</p>'
    assert encoding == "windows-1252"


def test_us_ascii_header_is_windows_1252() -> None:
    decoded, encoding = decode_html(b"<p>na\xefve</p>", "text/html; charset=us-ascii")
    assert (decoded, encoding) == ("<p>naïve</p>", "windows-1252")


@pytest.mark.parametrize(
    ("bom", "codec", "expected_encoding"),
    [
        (codecs.BOM_UTF8, "utf-8", "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16le"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16be"),
    ],
)
def test_bom_without_declaration(bom: bytes, codec: str, expected_encoding: str) -> None:
    html = page(FRENCH + " " + ARABIC)
    decoded, encoding = decode_html(bom + html.encode(codec))
    assert decoded == html  # the BOM itself is not part of the text
    assert encoding == expected_encoding


def test_bom_wins_over_a_wrong_header() -> None:
    # HTML standard: the BOM is sniffed before the transport-layer charset.
    html = page(RUSSIAN)
    decoded, encoding = decode_html(
        codecs.BOM_UTF8 + html.encode(), "text/html; charset=iso-8859-1"
    )
    assert (decoded, encoding) == (html, "utf-8")


def test_meta_declaring_utf16_means_utf8() -> None:
    html = page(FRENCH, '<meta charset="utf-16">')
    assert decode_html(html.encode("utf-8")) == (html, "utf-8")


def test_unsafe_codec_names_are_ignored() -> None:
    # utf-7 can smuggle markup; Python knows it but browsers do not honour it.
    html = page("a +ADw-script+AD4- b", '<meta charset="utf-7">')
    decoded, encoding = decode_html(html.encode("ascii"), "text/html; charset=utf-7")
    assert decoded == html
    assert encoding == "utf-8"


def test_detection_of_undeclared_legacy_text() -> None:
    text = " ".join([RUSSIAN] * 20)
    html = page(text)
    decoded, encoding = decode_html(html.encode("cp1251"))
    assert decoded == html
    assert encoding == "windows-1251"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<p>\xff\xfe\xfa broken \xc3</p>", "text/html; charset=utf-8"),
        (b"<p>\x81\x8d\x8f\x90\x9d</p>", "text/html; charset=windows-1252"),
        (b"\x00\x01\x02\xff" * 50, None),
        (b"", None),
        (b"<p>\x82\xa0\xff</p>", "text/html; charset=shift_jis"),
    ],
)
def test_bad_bytes_never_raise(body: bytes, content_type: str | None) -> None:
    decoded, encoding = decode_html(body, content_type)
    assert isinstance(decoded, str)
    assert encoding


def test_windows_1252_undefined_bytes_map_to_c1_like_browsers() -> None:
    decoded, _ = decode_html(b"<p>\x81</p>", "text/html; charset=windows-1252")
    assert decoded == "<p>\x81</p>"
