#!/usr/bin/env bash
# Set up everything the tests need, then run the whole suite (lint, types, then pytest).
# Extra arguments go to pytest, e.g. scripts/test.sh -k search
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/pytest "$@"
