"""Which sites a store holds: batch jobs refuse a `--site` the store has nothing of."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from newsarchive.archive.layout import META_PREFIX, WARC_PREFIX, key_site, safe_segment

if TYPE_CHECKING:
    from newsarchive.archive.store import Store


class UnknownSiteError(LookupError):
    """A `--site` of which the store holds no WARC and no metadata record."""


def store_sites(store: Store) -> list[str]:
    """Every site with WARCs or metadata records in the store."""
    return sorted(
        {key_site(key) for prefix in (WARC_PREFIX, META_PREFIX) for key in store.list(prefix)}
    )


def check_site(store: Store, site: str | None) -> None:
    """Nothing for no site; UnknownSiteError, naming the sites there are, for a site the store
    has nothing of (a typo must not read as an empty, healthy archive)."""
    if site is None:
        return
    try:
        segment = safe_segment(site)
    except ValueError:
        raise UnknownSiteError(f"not a site name: {site!r}") from None
    for prefix in (WARC_PREFIX, META_PREFIX):
        if next(iter(store.list(f"{prefix}/{segment}")), None) is not None:
            return
    known = store_sites(store)
    close = difflib.get_close_matches(site, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UnknownSiteError(
        f"no site {site!r} in {store.uri} (sites there: {', '.join(known) or 'none'}){hint}"
    )
