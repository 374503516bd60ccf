"""Property-based tests (hypothesis): URL canonicalisation and WARC records round-tripping."""

from __future__ import annotations

import io
import string
from datetime import UTC, datetime
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.warc import HttpExchange, WarcRecordWriter, payload_digest
from newsarchive.spiders.urls import canonicalize

_URL_ALPHABET = string.ascii_letters + string.digits + ":/?#[]@!$&'()*+,;=%-._~ äß中\\"

#: URL-shaped text: a scheme-like prefix and pieces of hosts, ports, paths and queries.
url_like = st.builds(
    "".join,
    st.lists(
        st.one_of(
            st.sampled_from(["http://", "https://", "HTTP://", "//", "javascript:", "ftp://"]),
            st.sampled_from(["[::1", "[::1]", ":99999", ":80", ":443", "xn--", "www.", "bücher"]),
            st.sampled_from(["?utm_source=a", "&fbclid=1", "#frag", "/../", "%zz", "%41"]),
            st.text(alphabet=_URL_ALPHABET, max_size=12),
        ),
        max_size=8,
    ),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), url_like))
def test_canonicalize_never_raises_is_idempotent_and_names_a_web_host(text: str) -> None:
    canonical = canonicalize(text)
    if canonical is None:
        return
    assert canonicalize(canonical) == canonical
    parts = urlsplit(canonical)
    assert parts.scheme in ("http", "https")
    assert parts.hostname
    assert parts.fragment == ""


_TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
# Header values as a parser hands them over: latin-1 text, no CR/LF/NUL, no edge whitespace.
_VALUE_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
header = st.tuples(
    st.text(alphabet=_TOKEN, min_size=1, max_size=20).filter(
        lambda name: name.lower() not in ("content-length", "transfer-encoding")
    ),
    st.text(alphabet=_VALUE_CHARS, max_size=60).map(str.strip),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(header, max_size=12),
    body=st.binary(max_size=4096),
    status=st.integers(min_value=100, max_value=599),
    gzip=st.booleans(),
)
def test_warc_records_round_trip_with_valid_digests(
    headers: list[tuple[str, str]], body: bytes, status: int, gzip: bool
) -> None:
    out = io.BytesIO()
    writer = WarcRecordWriter(out, gzip=gzip)
    exchange = HttpExchange(
        url="https://news.example/a?b=1",
        method="GET",
        request_headers=[("Host", "news.example")],
        request_body=b"",
        status=status,
        protocol="HTTP/1.1",
        response_headers=headers,
        payload=body,
        ip_address="192.0.2.1",
        date=datetime(2026, 2, 17, 13, 15, tzinfo=UTC),
    )
    writer.write_exchange(exchange)
    out.seek(0)
    records = list(_read(out))
    assert [r[0] for r in records] == ["response", "request"]
    _, warc_headers, http_headers, payload = records[0]
    assert payload == body
    assert warc_headers["WARC-Payload-Digest"] == payload_digest(body)
    assert warc_headers["WARC-Target-URI"] == exchange.url
    got = [(n, v) for n, v in http_headers if n.lower() != "content-length"]
    assert [n for n, _ in got] == [n for n, _ in headers]
    # Written as the wire's latin-1 bytes; warcio reads a line as UTF-8 when it decodes so.
    assert all(_same_bytes(read, given) for (_, read), (_, given) in zip(got, headers, strict=True))


def _same_bytes(read: str, given: str) -> bool:
    wire = given.encode("latin-1")
    try:
        return read.encode("utf-8") == wire or read.encode("latin-1") == wire
    except UnicodeEncodeError:
        return read.encode("utf-8") == wire


def _read(stream: io.BytesIO) -> list[tuple[str, dict[str, str], list[tuple[str, str]], bytes]]:
    """Every record, read with warcio checking block and payload digests (raises on mismatch)."""
    records = []
    for record in ArchiveIterator(stream, check_digests="raise"):
        payload = record.content_stream().read()
        http = record.http_headers.headers if record.http_headers else []
        records.append((record.rec_type, dict(record.rec_headers.headers), http, payload))
    return records
