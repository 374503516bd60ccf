"""`Resource`: the `with` protocol shared by what is taken or started for a block and ended after.

The site lock, the rolling WARC writer, the replay server and the demo site each say only how
they begin and end; none of them looks at, or swallows, the exception leaving the block.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from types import TracebackType


class Resource(ABC):
    """A context manager: entering calls `_enter` (by default: nothing to begin), leaving calls
    `_exit`, also when the block raised (the exception goes on)."""

    def __enter__(self) -> Self:
        return self._enter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit()

    def _enter(self) -> Self:
        return self

    @abstractmethod
    def _exit(self) -> None:
        """End what the block held (release, close, stop); safe to call when nothing was begun."""
