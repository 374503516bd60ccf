"""`CaptureRef`: the one answer to "where is this capture?" in the archive."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CaptureRef:
    """A response or revisit record in a stored WARC, and what a revisit of it must repeat.

    The WARC writer returns one for every capture; the digest index, the seen store and the
    metadata records keep it (each in its own on-disk shape), and a revisit refers to one.
    `length` and `payload_digest` are None where the holder never kept them: the seen store
    keeps no length, a metadata record neither (reading a record needs its offset only).
    """

    #: WARC-Target-URI.
    target_uri: str
    #: WARC-Date, as written (``2026-02-17T13:15:00.123456Z``).
    date: str
    #: WARC-Record-ID, with its angle brackets.
    record_id: str
    #: Store key of the WARC file (``warcs/SITE/DAY/NAME``); "" for a stream that has none.
    warc_key: str
    #: Offset of the record (its gzip member) in the file, and its length there.
    offset: int
    length: int | None = None
    #: WARC-Payload-Digest (for a revisit: the original's).
    payload_digest: str | None = None

    @property
    def filename(self) -> str:
        """The WARC file's name: the last segment of its key."""
        return self.warc_key.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"{self.warc_key}@{self.offset}"


def ref_to_json(capture: CaptureRef) -> str:
    """One JSON line: the durable digest index's form (its field names since the first version)."""
    fields = {
        "payload_digest": capture.payload_digest,
        "target_uri": capture.target_uri,
        "date": capture.date,
        "record_id": capture.record_id,
        "warc_key": capture.warc_key,
        "filename": capture.filename,
        "offset": capture.offset,
        "length": capture.length,
    }
    return json.dumps(fields, ensure_ascii=False, sort_keys=True)


def ref_from_json(line: str) -> CaptureRef:
    """A reference read back from `ref_to_json`'s form."""
    data = json.loads(line)
    return CaptureRef(
        target_uri=str(data["target_uri"]),
        date=str(data["date"]),
        record_id=str(data["record_id"]),
        warc_key=str(data["warc_key"]),
        offset=int(data["offset"]),
        length=int(data["length"]),
        payload_digest=str(data["payload_digest"]),
    )
