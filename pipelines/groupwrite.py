"""Group commit of small store objects: the items of a short window are written and made
durable together (`Store.put_many`), off the reactor, and each caller resumes once its own
objects are stored."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from newsarchive.archive.store import Store, StoreObject

logger = logging.getLogger(__name__)

#: Seconds the first caller of a group waits for others. At the 80 articles/s of the crawl
#: bench a group gathers about four articles (eight files), which cuts the crawl process's
#: fsync CPU by about half; an item waits no longer than its pool task takes anyway.
GROUP_WAIT: Final = 0.05
#: Objects past which a group is written without waiting for the rest of the window.
GROUP_MAX: Final = 64


class GroupWriter:
    """Collects the objects of concurrent `put` calls and writes them in one `put_many`."""

    def __init__(self, store: Store, *, wait: float = GROUP_WAIT, limit: int = GROUP_MAX) -> None:
        self.store = store
        self.wait = wait
        self.limit = limit
        self._group: list[tuple[Sequence[StoreObject], asyncio.Future[None]]] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        #: Groups being written (a reference, so their tasks are not collected mid-write).
        self._writing: set[asyncio.Task[None]] = set()

    async def put(self, objects: Sequence[StoreObject]) -> None:
        """Store `objects` in order, durably; the OSError of a failed write is raised to the
        caller whose objects it was, and only to it."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._group.append((objects, done))
        self._size += len(objects)
        if self._size >= self.limit:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.wait, self._flush)
        await done

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        group, self._group, self._size = self._group, [], 0
        if group:
            task = asyncio.ensure_future(self._write(group))
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    async def _write(self, group: list[tuple[Sequence[StoreObject], asyncio.Future[None]]]) -> None:
        objects = [obj for item, _done in group for obj in item]
        try:
            await asyncio.to_thread(self.store.put_many, objects)
        except OSError as exc:
            if len(group) == 1:
                _settle(group[0][1], exc)
                return
            # Whose write failed: each caller's objects again alone, so only its item fails
            # (a full disk fails them all). Objects already stored are written over unchanged.
            logger.debug("A group write failed; writing its items one by one", exc_info=True)
            for item, done in group:
                try:
                    await asyncio.to_thread(self.store.put_many, item)
                except OSError as item_exc:
                    _settle(done, item_exc)
                else:
                    _settle(done, None)
            return
        except Exception as exc:  # a store bug: every caller of the group sees it
            for _item, done in group:
                _settle(done, exc)
            return
        for _item, done in group:
            _settle(done, None)


def _settle(done: asyncio.Future[None], error: Exception | None) -> None:
    if done.done():  # its caller was cancelled
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
