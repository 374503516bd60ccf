"""JSON from site input, refused before parsing when nested too deep or too large."""

from __future__ import annotations

import json
import re
from typing import Any

from newsarchive.config import settings as defaults

# A JSON string literal (escapes included): brackets inside strings do not nest.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class JSONLimitError(ValueError):
    """A JSON document over the depth or size limit (a ValueError, as json's own errors are)."""


def nesting_depth(data: bytes, stop_after: int | None = None) -> int:
    """The deepest nesting of arrays and objects in `data`; counting stops past `stop_after`."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_after is not None and deepest > stop_after:
                    break
        else:
            depth -= 1
    return deepest


def loads_bounded(
    data: str | bytes,
    max_depth: int = defaults.JSON_MAX_DEPTH,
    max_bytes: int = defaults.JSON_MAX_BYTES,
) -> Any:
    """json.loads, refusing (JSONLimitError) documents nested past `max_depth` or larger than
    `max_bytes`: json's parser and every walk over the result recurse once per level, so a deep
    document would raise RecursionError wherever it is read."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise JSONLimitError(f"{len(raw)} bytes, over the limit of {max_bytes}")
    if nesting_depth(raw, stop_after=max_depth) > max_depth:
        raise JSONLimitError(f"nested deeper than {max_depth} levels")
    return json.loads(data)
