#!/usr/bin/env bash
# Builds the web dashboard (web/ → dist/web) when its sources, the shared pure code it bundles or the
# lock changed since the last build; the hub serves the result under /ui/. Sourced by setup.sh, and
# runnable on its own (`bash scripts/build-web.sh --force` rebuilds regardless).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [[ -z "${OUTPOST_IN_SETUP:-}" ]]; then
  export OUTPOST_IN_SETUP=1
  source scripts/setup.sh
fi

stamp="$root/dist/web/.outpost-build"
sum=$( (find web src/web src/select src/model -type f \( -name '*.ts' -o -name '*.tsx' -o -name '*.css' -o -name '*.html' -o -name '*.json' \) ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum; sha256sum package-lock.json) | sha256sum | cut -c1-64)
if [[ "${1:-}" != --force && -f "$stamp" && -f "$root/dist/web/index.html" && "$(cat "$stamp")" == "$sum" ]]; then
  exit 0
fi
echo "build-web: building the dashboard into dist/web" >&2
node_modules/.bin/vite build --config web/vite.config.ts >&2
echo "$sum" > "$stamp"
