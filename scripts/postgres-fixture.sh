#!/usr/bin/env bash
# Starts (once) a private PostgreSQL cluster for the tests and benchmarks and prints its URL. Debian's
# `postgresql` is installed when missing; the cluster lives outside the work tree, listens on 127.0.0.1
# only (on a port chosen free when it is created) and trusts local connections. PostgreSQL refuses to
# run as root, so as root the cluster belongs to the `postgres` user. Tests make their own databases.
# Honours OUTPOST_TEST_POSTGRES: when set, it is printed as it is.
set -euo pipefail
# runuser lives in /usr/sbin, which a bare PATH (cron, CI runners, env -i) may lack
PATH="$PATH:/usr/sbin:/sbin"

if [[ -n "${OUTPOST_TEST_POSTGRES:-}" ]]; then
  echo "$OUTPOST_TEST_POSTGRES"
  exit 0
fi

dir="${OUTPOST_POSTGRES_DIR:-/tmp/outpost-postgres-$(id -u)}"

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin=$(find_bin)
if [[ -z "$bin" ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "postgres-fixture: PostgreSQL is not installed; run 'apt-get install postgresql' as root" >&2
    exit 1
  fi
  echo "postgres-fixture: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends postgresql >&2 ||
    { apt-get -o DPkg::Lock::Timeout=900 update >&2 &&
      apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends postgresql >&2; }
  bin=$(find_bin)
fi

# as root, every cluster command runs as the postgres user
as_owner() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

mkdir -p "$dir"
[[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir"
chmod 700 "$dir"
exec 9>"$dir.lock"
flock 9

if [[ ! -f "$dir/data/PG_VERSION" ]]; then
  port=""
  for p in $(seq 55432 55532); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
  done
  [[ -n "$port" ]] || { echo "postgres-fixture: no free port in 55432-55532" >&2; exit 1; }
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
shared_buffers = 128MB
EOF
fi
port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$dir/data/postgresql.conf" | tail -1)

if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start </dev/null >/dev/null 2>&1 9>&- ||
    { echo "postgres-fixture: PostgreSQL did not start; see $dir/log" >&2; tail -20 "$dir/log" >&2; exit 1; }
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"
