#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium for the dashboard's browser tests, installing
# Debian's `chromium` package when none is found (playwright-core drives it; it never downloads one).
set -euo pipefail

found=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$found" ]]; then
  echo "chromium-fixture: installing Debian's chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends chromium >&2; then
    apt-get -o DPkg::Lock::Timeout=900 update >&2
    apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends chromium >&2
  fi
  found=$(command -v chromium)
fi
echo "$found"
