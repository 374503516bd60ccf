#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine, then runs it.
# README's quickstart line 2 and .ci/run both call this script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive for real; installed only when missing.
packages=()
need() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }
need git git
need chromium chromium  # tests/test_replay.py renders replayed pages headless
need redis-server redis-server  # tests/test_scaleout*.py share a frontier through a real Redis
need ip iproute2  # tests/test_network_namespace.py puts private addresses on a namespace's lo
need npm npm  # tests/browser.py packs the replaywebpage release from the npm registry
# ... and needs a font, or its screenshots of text pages come out blank.
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || packages+=(fonts-dejavu-core)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

python3 -m venv .venv
# pip 23 trips over two spellings of one extra (lxml[html_clean] vs [html-clean]) in our tree.
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24"
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
# The habits that keep the tree as STYLE.md draws it: import layers, lint, format, types.
.venv/bin/lint-imports --no-cache
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
