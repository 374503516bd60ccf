"""newsarchive: crawl news sites into replayable WARC archives plus clean article text and metadata.

Every package lives under this one import name. In a checkout the packages are the top-level
folders the design fixes (archive/, spiders/, ...), linked here; a wheel holds them as real
folders below newsarchive/.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("newsarchive")
except PackageNotFoundError:  # a checkout run without installing: no distribution metadata
    __version__ = "0+unknown"
