"""A reprint (an identical payload at another URL) stored as a revisit replays in pywb as the
original's payload: pywb follows WARC-Refers-To-Target-URI and WARC-Refers-To-Date."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.test_replay import COLLECTION, _get, _start_replay, _stop
from tests.test_reprints import STORY, write_reprint

if TYPE_CHECKING:
    from pathlib import Path

ORIGINAL = "https://news.example/world/story-1"
REPRINT = "https://news.example/reprints/story-1"


def test_cross_uri_revisit_replays_the_original_payload_in_pywb(
    pywb_env_dir: Path, tmp_path: Path
) -> None:
    done = write_reprint(tmp_path / "store", ORIGINAL, REPRINT)
    assert done.reprint.revisit is not None
    stamp = done.reprint.location.date
    timestamp = "".join(c for c in stamp if c.isdigit())[:14]
    running = _start_replay(tmp_path / "store", pywb_env_dir, tmp_path / "log")
    try:
        # id_: the archived payload as it was served, no rewriting.
        status, headers, body = _get(f"{running.base_url}/{COLLECTION}/{timestamp}id_/{REPRINT}")
        assert status == 200, body[:500]
        assert body == STORY
        assert headers.get("memento-datetime")
        # And rewritten for the browser, as a reader follows a link to it.
        status, _headers, body = _get(f"{running.base_url}/{COLLECTION}/{timestamp}/{REPRINT}")
        assert status == 200
        assert b"Same story." in body
    finally:
        assert _stop(running) == 0
