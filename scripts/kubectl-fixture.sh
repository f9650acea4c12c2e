#!/usr/bin/env bash
# Builds (once) the upstream kubectl the tunnel tests drive, at the version of the kube-apiserver
# fixture (scripts/k8s-fixture.sh), from the Go module proxy through the same build module
# (hack/k8sbin), into a cache outside the work tree keyed by version. Prints the binary's path.
# Honours OUTPOST_KUBECTL: an executable named there is used as it is.
#
#   OUTPOST_KUBECTL=$(bash scripts/kubectl-fixture.sh)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
K8S_VERSION=$(sed -n 's/^K8S_VERSION=//p' "$here/scripts/k8s-fixture.sh")

if [[ -n "${OUTPOST_KUBECTL:-}" && -x "$OUTPOST_KUBECTL" ]]; then
  echo "$OUTPOST_KUBECTL"
  exit 0
fi

out="${XDG_CACHE_HOME:-$HOME/.cache}/outpost/k8sbin/kubectl-$K8S_VERSION"
if [[ -x "$out/kubectl" ]]; then
  echo "$out/kubectl"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "kubectl-fixture: 'go' (>= 1.24) is needed once to build kubectl $K8S_VERSION; or set OUTPOST_KUBECTL to a kubectl binary" >&2
  exit 1
fi

# one build at a time: scripts and tests may ask together
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if [[ -x "$out/kubectl" ]]; then
  echo "$out/kubectl"
  exit 0
fi

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
start=$(date +%s)
echo "kubectl-fixture: building kubectl $K8S_VERSION into $out (first time only; a few minutes)" >&2
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
cd "$here/hack/k8sbin"
ldf="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
CGO_ENABLED=0 go build -trimpath -ldflags "$ldf" -o "$out.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl >&2
rm -rf "$out" && mv "$out.tmp" "$out"
echo "kubectl-fixture: built in $(( $(date +%s) - start ))s" >&2
echo "$out/kubectl"
