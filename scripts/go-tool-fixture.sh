#!/usr/bin/env bash
# Builds (once) a real Go command-line tool the source tests run: helm, kustomize, oras or cosign, each
# at a pinned release from the Go module proxy, into a cache outside the work tree keyed by version.
# Prints the binary's path. Honours HELM_BIN / KUSTOMIZE_BIN / ORAS_BIN / COSIGN_BIN: an executable
# named there is used as it is.
#
#   HELM_BIN=$(bash scripts/go-tool-fixture.sh helm)
set -euo pipefail

tool=${1:?usage: go-tool-fixture.sh helm|kustomize|oras|cosign}
case "$tool" in
  helm)
    version=v4.3.2 override=${HELM_BIN:-}
    package=helm.sh/helm/v4/cmd/helm
    # as helm's Makefile stamps a release; kustomize and oras read theirs from the build info or source
    ldflags="-X helm.sh/helm/v4/internal/version.version=$version -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
    ;;
  kustomize)
    # the standalone release line; kubectl's built-in kustomize is an older copy of the same code
    version=v5.8.2 override=${KUSTOMIZE_BIN:-}
    package=sigs.k8s.io/kustomize/kustomize/v5
    ldflags=""
    ;;
  oras)
    version=v1.3.6 override=${ORAS_BIN:-}
    package=oras.land/oras/cmd/oras
    ldflags=""
    ;;
  cosign)
    version=v2.6.5 override=${COSIGN_BIN:-}
    package=github.com/sigstore/cosign/v2/cmd/cosign
    # as cosign's release build stamps it; without this `cosign version` says "devel"
    ldflags="-X sigs.k8s.io/release-utils/version.gitVersion=$version -X sigs.k8s.io/release-utils/version.gitTreeState=clean"
    ;;
  *)
    echo "go-tool-fixture: unknown tool '$tool' (helm, kustomize, oras or cosign)" >&2
    exit 2
    ;;
esac

if [[ -n "$override" && -x "$override" ]]; then
  echo "$override"
  exit 0
fi

out="${XDG_CACHE_HOME:-$HOME/.cache}/outpost/$tool/$version"
if [[ -x "$out/$tool" ]]; then
  echo "$out/$tool"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "go-tool-fixture: 'go' (>= 1.26; these releases need it) is needed once to build $tool $version; or set ${tool^^}_BIN to a $tool binary" >&2
  exit 1
fi

# one build at a time per tool: scripts and tests may ask together
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if [[ -x "$out/$tool" ]]; then
  echo "$out/$tool"
  exit 0
fi

start=$(date +%s)
echo "go-tool-fixture: building $tool $version into $out (first time only)" >&2
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
# `go install module@version` builds with the module's own go.mod, as its release does; the module
# proxy and its checksum database vouch for every dependency
CGO_ENABLED=0 GOBIN="$out.tmp" go install -trimpath -ldflags "-s -w $ldflags" "$package@$version" >&2
rm -rf "$out" && mv "$out.tmp" "$out"
echo "go-tool-fixture: built $tool in $(( $(date +%s) - start ))s" >&2
echo "$out/$tool"
