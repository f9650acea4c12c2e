#!/usr/bin/env bash
# Prints the path of buildah for the container image tests, installing Debian's `buildah` package when
# none is found; prints nothing (and the tests skip, saying so) when it cannot be had, e.g. without root.
# The tests build daemonless: vfs storage in a temp folder, chroot isolation.
set -euo pipefail

found=$(command -v buildah || true)
if [[ -z "$found" && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  echo "buildah-fixture: installing Debian's buildah" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends buildah >&2; then
    apt-get -o DPkg::Lock::Timeout=900 update >&2 || true
    apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends buildah >&2 || true
  fi
  found=$(command -v buildah || true)
fi
echo "$found"
