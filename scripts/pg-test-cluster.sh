#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: its own data folder, a free
# port on 127.0.0.1, trust authentication, nothing shared with any server the
# machine already runs.
#
#   scripts/pg-test-cluster.sh start [DIR]   start (creating DIR/data on first use);
#                                            prints the server URL on stdout
#   scripts/pg-test-cluster.sh stop DIR      stop it (fast shutdown), keep the data
#   scripts/pg-test-cluster.sh destroy DIR   stop it and delete DIR
#   scripts/pg-test-cluster.sh url DIR       print the URL of a started cluster
#   scripts/pg-test-cluster.sh destroy-after PID DIR
#                                            wait until process PID has exited,
#                                            then destroy DIR (a watchdog: the
#                                            test suites start it detached, so
#                                            their clusters never outlive them)
#
# Exit status 3: PostgreSQL's server programs are not installed (the test
# suites skip their PostgreSQL tests on it); 1: any other failure.
#
# Without DIR, `start` makes a temporary folder. Starting a stopped cluster
# again reuses its port, so a URL stays valid across stop/start (the outage
# test relies on that). Run the PostgreSQL test suites with:
#
#   export CALLACCESS_TEST_POSTGRES=$(scripts/pg-test-cluster.sh start /tmp/ca-pg)
#   CALLACCESS_TEST_DATABASE=$CALLACCESS_TEST_POSTGRES cargo test --workspace
#   scripts/pg-test-cluster.sh destroy /tmp/ca-pg
#
# Needs PostgreSQL's server binaries (Debian: apt-get install postgresql).
# As root, the server runs as the `postgres` user, since PostgreSQL refuses
# to run as root.
set -euo pipefail

die() { echo "pg-test-cluster: $*" >&2; exit 1; }
say() { echo "pg-test-cluster: $*" >&2; }

bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return
    fi
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"
    return
  fi
  say "PostgreSQL's server programs (initdb, pg_ctl) were not found; install them (Debian: apt-get install postgresql)"
  exit 3
}

# Runs a server program as the account that owns the cluster.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    if command -v runuser >/dev/null; then
      runuser -u postgres -- "$@"
    else
      su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

url_of() {
  local port
  port=$(cat "$1/port" 2>/dev/null) || die "$1 holds no cluster started by this script"
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

start() {
  local dir=${1:-} bin
  # First, so that a machine without PostgreSQL is left without a folder.
  bin=$(bindir)
  if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/callaccess-pg.XXXXXX")
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "as root, the server needs a 'postgres' user to run as"
    chown postgres: "$dir"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-instructions \
      --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    url_of "$dir"
    return
  fi
  # Keep the port of an earlier start, so that URLs handed out stay valid;
  # otherwise try random high ports until the server binds one.
  local port tries=0
  port=$(cat "$dir/port" 2>/dev/null || true)
  while :; do
    tries=$((tries + 1))
    if [ -z "$port" ]; then
      port=$((20000 + RANDOM % 40000))
      port_is_free "$port" || { port=""; continue; }
    fi
    # Loopback only; the socket lives in the cluster's own folder. A small
    # shared_buffers keeps several clusters cheap on a small machine.
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300 -c shared_buffers=32MB" \
      >/dev/null 2>&1; then
      echo "$port" >"$dir/port"
      break
    fi
    if [ -f "$dir/port" ] || [ "$tries" -ge 10 ]; then
      tail -n 20 "$dir/server.log" >&2 || true
      die "the server did not start on port $port"
    fi
    port=""
  done
  say "PostgreSQL running in $dir on 127.0.0.1:$port"
  url_of "$dir"
}

stop() {
  local dir=${1:?usage: $0 stop DIR}
  [ -d "$dir/data" ] || die "$dir holds no cluster"
  as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

destroy() {
  local dir=${1:?usage: $0 destroy DIR}
  if [ -d "$dir/data" ]; then
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

# Polls once a second: this runs for the whole life of a test process, and a
# second of delay before the cleanup costs nothing.
destroy_after() {
  local pid=${1:?usage: $0 destroy-after PID DIR} dir=${2:?usage: $0 destroy-after PID DIR}
  while kill -0 "$pid" 2>/dev/null; do sleep 1; done
  destroy "$dir"
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  destroy) destroy "${2:-}" ;;
  url) url_of "${2:?usage: $0 url DIR}" ;;
  destroy-after) destroy_after "${2:-}" "${3:-}" ;;
  *) die "usage: $0 start [DIR] | stop DIR | destroy DIR | url DIR | destroy-after PID DIR" ;;
esac
