#!/usr/bin/env bash
# Builds (once) the upstream kube-apiserver and etcd that integration tests run against, from the
# Go module proxy, into a cache outside the work tree keyed by version. Prints the directory.
# Honours KUBEBUILDER_ASSETS: if it already holds both binaries, they are used as they are.
set -euo pipefail

K8S_VERSION=v1.33.13
ETCD_VERSION=v3.5.21

if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" && -x "$KUBEBUILDER_ASSETS/etcd" ]]; then
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="${XDG_CACHE_HOME:-$HOME/.cache}/outpost/k8sbin/$K8S_VERSION-etcd-$ETCD_VERSION"
if [[ -x "$out/kube-apiserver" && -x "$out/etcd" ]]; then
  echo "$out"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "k8s-fixture: 'go' (>= 1.24) is needed once to build kube-apiserver and etcd; or set KUBEBUILDER_ASSETS to a folder holding both" >&2
  exit 1
fi

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
start=$(date +%s)
echo "k8s-fixture: building kube-apiserver $K8S_VERSION and etcd $ETCD_VERSION into $out (first time only; several minutes)" >&2
mkdir -p "$out.tmp"
cd "$here/hack/k8sbin"
export CGO_ENABLED=0
ldf="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
go build -trimpath -ldflags "$ldf" -o "$out.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver >&2
go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3 >&2
rm -rf "$out" && mv "$out.tmp" "$out"
echo "k8s-fixture: built in $(( $(date +%s) - start ))s" >&2
echo "$out"
