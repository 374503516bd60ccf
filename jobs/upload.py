"""Batch job: send what an S3 store's local spool still holds (after an outage or a kill)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from newsarchive.archive.store import open_store

if TYPE_CHECKING:
    from collections.abc import Mapping

    from newsarchive.archive.store import Store, UploadReport


def drain(store_uri: str, store_options: Mapping[str, Any] | None = None) -> UploadReport | None:
    """Open and close the store: opening an S3 store aborts stale multipart uploads and queues
    its spool, closing sends it; what is left after (None for a local store)."""
    return drain_store(open_store(store_uri, **dict(store_options or {})))


def drain_store(store: Store) -> UploadReport | None:
    """Close an opened store so it uploads its spool; what is left after."""
    store.close()
    return store.upload_report()
