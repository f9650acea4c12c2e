#!/usr/bin/env bash
# Makes a release of Outpost for sites and images (what `outpost agent build-release` runs):
#   OUT/outpost-VERSION-linux-ARCH/          bin/outpost (the command), bin/outpost-agent (the host
#                                            launcher), node/ (the pinned Node runtime), app/ (the built
#                                            command), web/ (the dashboard), the two Containerfiles
#   OUT/outpost-VERSION-linux-ARCH.tar.gz    the same folder, reproducibly packed (sorted, fixed times)
#   OUT/outpost-VERSION-linux-ARCH.tar.gz.sha256
#
#   scripts/build-release.sh --version V --out DIR
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
source scripts/setup.sh

version=
out=
while [[ $# -gt 0 ]]; do
  case $1 in
    --version) version=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    *) echo "build-release: unknown argument $1 (--version V --out DIR)" >&2; exit 64 ;;
  esac
done
if [[ -z "$version" || -z "$out" ]]; then
  echo "build-release: --version V and --out DIR are required" >&2
  exit 64
fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "build-release: no Node runtime for $(uname -m)" >&2; exit 1 ;;
esac

node_dir=$(outpost_node_runtime)
if [[ ! -f dist/web/index.html ]]; then
  echo "build-release: the dashboard is not built (bash scripts/build-web.sh)" >&2
  exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
name="outpost-$version-linux-$arch"
stage="$out/$name"
rm -rf "$stage" "$out/$name.tar.gz" "$out/$name.tar.gz.sha256"
mkdir -p "$stage/bin" "$stage/node/bin"
node scripts/build-app.ts --out "$stage/app" --version "$version"
rm -f "$stage/app/.outpost-build"
cp "$node_dir/bin/node" "$stage/node/bin/node"
cp "$node_dir/LICENSE" "$stage/node/LICENSE"
cp -R dist/web "$stage/web"
rm -f "$stage/web/.outpost-build"
cp deploy/outpost deploy/outpost-agent "$stage/bin/"
chmod 0755 "$stage/bin/outpost" "$stage/bin/outpost-agent" "$stage/node/bin/node"
cp deploy/Containerfile.agent deploy/Containerfile.hub "$stage/"

# the commit's time, so the same tree packs to the same bytes
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
(cd "$out" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - "$name" |
  gzip -n -6 > "$name.tar.gz.tmp" && mv "$name.tar.gz.tmp" "$name.tar.gz")
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "$out/$name.tar.gz"
