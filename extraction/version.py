"""The extractor's version, readable without importing the extractor (and trafilatura with it)."""

from __future__ import annotations

from importlib.metadata import version
from typing import Final

# Bump RULES_VERSION whenever the output for the same page can change (rules, thresholds,
# fallbacks): stored text is keyed by EXTRACTOR_VERSION so re-extraction knows what is stale.
RULES_VERSION: Final = "na8"
EXTRACTOR_VERSION: Final = f"tf{version('trafilatura')}-{RULES_VERSION}"
