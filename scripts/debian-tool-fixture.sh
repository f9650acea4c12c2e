#!/usr/bin/env bash
# Makes sure a real tool the tests run is installed, from Debian's packages when missing: for the source
# tests `docker-registry` (the CNCF distribution registry, an OCI registry) or `sshd` (openssh-server),
# for the install tests `buildah` (builds the images daemonless) or `systemd-analyze` (systemd, checks
# the host unit), for the clock-skew chaos scenario `faketime` (prints libfaketime's preload library, which
# moves a process's clock: its `faketime` wrapper forks and would not pass a signal on). Prints the path. The source tests start their own private instance on
# 127.0.0.1 with a config in a temporary folder; no package's system service is used. Honours
# REGISTRY_BIN / SSHD_BIN / OUTPOST_BUILDAH / OUTPOST_FAKETIME.
#
#   REGISTRY_BIN=$(bash scripts/debian-tool-fixture.sh docker-registry)
set -euo pipefail

tool=${1:?usage: debian-tool-fixture.sh docker-registry|sshd|buildah|systemd-analyze|faketime}
case "$tool" in
  docker-registry) package=docker-registry override=${REGISTRY_BIN:-} ;;
  sshd) package=openssh-server override=${SSHD_BIN:-} ;;
  buildah) package=buildah override=${OUTPOST_BUILDAH:-} ;;
  systemd-analyze) package=systemd override= ;;
  faketime) package=faketime override=${OUTPOST_FAKETIME:-} ;;
  *)
    echo "debian-tool-fixture: unknown tool '$tool' (docker-registry, sshd, buildah, systemd-analyze or faketime)" >&2
    exit 2
    ;;
esac

if [[ -n "$override" && -x "$override" ]]; then
  echo "$override"
  exit 0
fi

# sshd lives in /usr/sbin, which a non-root PATH may lack
find_tool() { PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" || true; }
found=$(find_tool)
if [[ -z "$found" ]]; then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "debian-tool-fixture: installing Debian's $package (first time only)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_get() { $sudo apt-get -o DPkg::Lock::Timeout=900 "$@" >&2; }
  apt_get install -y --no-install-recommends "$package" ||
    { apt_get update && apt_get install -y --no-install-recommends "$package"; }
  found=$(find_tool)
fi
[[ -n "$found" ]] || { echo "debian-tool-fixture: $package is installed but $tool was not found" >&2; exit 1; }
if [[ "$tool" == faketime && -z "$override" ]]; then
  found=$(dpkg -L libfaketime | grep '/libfaketime\.so\.1$' | head -n 1)
  [[ -n "$found" ]] || { echo "debian-tool-fixture: libfaketime.so.1 not found" >&2; exit 1; }
fi
echo "$found"
