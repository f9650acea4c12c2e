#!/usr/bin/env bash
# Prints the path of a command the install tests need (buildah, systemd-analyze), installing the Debian
# package that holds it when none is found; prints nothing (and the tests skip, saying so) when it
# cannot be had, e.g. without root. Usage: debian-tool-fixture.sh COMMAND PACKAGE
set -euo pipefail

command=$1 package=$2
found=$(command -v "$command" || true)
if [[ -z "$found" && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  echo "debian-tool-fixture: installing Debian's $package for $command" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "$package" >&2; then
    apt-get -o DPkg::Lock::Timeout=900 update >&2 || true
    apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "$package" >&2 || true
  fi
  found=$(command -v "$command" || true)
fi
echo "$found"
