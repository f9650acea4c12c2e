#!/usr/bin/env bash
# Makes sure a Prometheus with the remote-write receiver (>= 2.33; Debian bookworm ships 2.42) is there for
# the remote-write tests, installing Debian's `prometheus` package once if needed. Prints the binary path.
# Honours PROMETHEUS_BIN: if it names an executable, that one is used as it is.
set -euo pipefail

if [[ -n "${PROMETHEUS_BIN:-}" && -x "$PROMETHEUS_BIN" ]]; then
  echo "$PROMETHEUS_BIN"
  exit 0
fi

if ! command -v prometheus >/dev/null 2>&1; then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "prometheus-fixture: installing Debian's prometheus (first time only)" >&2
  apt_get() { $sudo apt-get -o DPkg::Lock::Timeout=900 "$@" >&2; }
  apt_get install -y --no-install-recommends prometheus || { apt_get update && apt_get install -y --no-install-recommends prometheus; }
fi

bin=$(command -v prometheus)
version=$("$bin" --version 2>&1 | sed -n 's/^prometheus, version \([0-9]*\.[0-9]*\).*/\1/p')
major=${version%%.*}
minor=${version#*.}
if [[ -z "$version" || "$major" -lt 2 || ( "$major" -eq 2 && "$minor" -lt 33 ) ]]; then
  echo "prometheus-fixture: $bin is version '${version:-unknown}'; the remote-write receiver needs >= 2.33" >&2
  exit 1
fi
echo "$bin"
