#!/usr/bin/env bash
# Builds the outpost command into dist/app (bundled JavaScript, scripts/build-app.ts) when its sources or
# the lock changed since the last build; ./outpost runs that build. Sourced by setup.sh, and runnable on
# its own (`bash scripts/build-app.sh --force` rebuilds regardless). A failed build removes dist/app, so
# ./outpost falls back to the sources rather than run stale code.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [[ -z "${OUTPOST_IN_SETUP:-}" ]]; then
  export OUTPOST_IN_SETUP=1
  source scripts/setup.sh
fi

stamp="$root/dist/app/.outpost-build"
sum=$( (find src -type f -name '*.ts' ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum; sha256sum package-lock.json scripts/build-app.ts) | sha256sum | cut -c1-64)
if [[ "${1:-}" != --force && -f "$stamp" && -f "$root/dist/app/outpost.mjs" && "$(cat "$stamp")" == "$sum" ]]; then
  exit 0
fi
echo "build-app: building the outpost command into dist/app" >&2
if ! node scripts/build-app.ts --out dist/app >&2; then
  rm -rf dist/app
  exit 1
fi
echo "$sum" > "$stamp"
