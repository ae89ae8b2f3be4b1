#!/usr/bin/env bash
# Install Deskbell and run the demo: the bundled knowledge base on http://127.0.0.1:8000
# and a demo site that embeds the widget on http://localhost:8001 (another origin).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/deskbell demo "$@"
