#!/usr/bin/env bash
# Install Deskbell into ./.venv. With --test, also what the tests need: the test extras,
# Debian's Chromium (driven by Playwright), axe-core from npm, PHP and WordPress builds.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade uv
extras=""
if [ "${1:-}" = "--test" ]; then
  extras="[test]"
  if ! command -v chromium >/dev/null 2>&1; then
    echo "Installing Chromium (Debian package) for the browser tests..."
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
  fi
  if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
    echo "Installing Dovecot (Debian package) for the IMAP tests of deskbell mail-in..."
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq dovecot-imapd >/dev/null
  fi
  if [ -f package-lock.json ]; then
    npm ci --silent --no-audit --no-fund
  fi
  scripts/setup-wordpress.sh
fi
.venv/bin/uv pip install --python .venv/bin/python -q -e ".${extras}"
