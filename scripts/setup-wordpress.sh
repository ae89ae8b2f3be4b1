#!/usr/bin/env bash
# Install what the WordPress plugin test needs: PHP with SQLite and WordPress 6.1 with its
# default theme (Debian packages; the web server they pull in is never started), and real
# WordPress 6.2-6.5 builds with the SQLite integration (the @wp-playground/wordpress-builds
# npm package), unpacked into a cache folder. Idempotent: a second run only checks and exits.
# The cache folder is $WORDPRESS_BUILDS_CACHE, default ~/.cache/deskbell/wordpress.
set -euo pipefail

WP_BUILDS_VERSION="0.9.19"
cache="${WORDPRESS_BUILDS_CACHE:-$HOME/.cache/deskbell/wordpress}"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# (php -m is read whole first: grep -q closing the pipe early would fail under pipefail)
if ! command -v php >/dev/null 2>&1 || ! grep -qi '^pdo_sqlite$' <<<"$(php -m)"; then
  echo "Installing PHP with SQLite (Debian packages) for the WordPress test..."
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq php-cli php-sqlite3 >/dev/null
fi

if [ ! -f /usr/share/wordpress/wp-content/themes/twentytwentythree/style.css ]; then
  echo "Installing WordPress 6.1 (Debian package) for the oldest-version test..."
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    wordpress wordpress-theme-twentytwentythree >/dev/null
fi

marker="$cache/package/.deskbell-$WP_BUILDS_VERSION"
if [ ! -f "$marker" ]; then
  echo "Fetching @wp-playground/wordpress-builds@$WP_BUILDS_VERSION into $cache..."
  mkdir -p "$cache"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "@wp-playground/wordpress-builds@$WP_BUILDS_VERSION" >/dev/null)
  rm -rf "$cache/package"
  tar -xzf "$tmp"/wp-playground-wordpress-builds-*.tgz -C "$cache"
  touch "$marker"
fi
