#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test (playwright-core drives it; it
# never downloads a browser of its own). Skipped when a Chromium is present, or
# when this machine has no apt-get or is not run as root: the test then says so.
set -euo pipefail
for c in /usr/bin/chromium /usr/bin/chromium-browser; do
  [ -x "$c" ] && exit 0
done
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "setup: installing chromium from Debian's packages (once)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
else
  echo "setup: no chromium and no way to install it here; the browser test will be skipped" >&2
fi
