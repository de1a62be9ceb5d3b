#!/usr/bin/env bash
# Instructions per request of the server under one benchmark scenario,
# counted by callgrind (the same figure whatever else the machine runs).
#
#   scripts/callgrind-server.sh SCENARIO [SERVER ARGS...]
#   scripts/callgrind-server.sh put1 --journal-size 0
#   scripts/callgrind-server.sh put1 --journal-size 10000
#
# Seeds 10,000 users and calls into a fresh SQLite store, starts the release
# server under callgrind with instrumentation off, warms up for 5 s, counts
# the server's instructions over a 20 s run of SCENARIO (8 connections) and
# divides by the requests /metrics counted in that time (the benchmark's
# paging through all users is left out with --user-passes 0). Needs valgrind and
# `cargo build --release -p callaccess -p callaccess-bench`. Set BIN to use
# binaries from another target folder, SERVER for the server alone,
# DURATION to change the 20 s.
set -euo pipefail
scenario=${1:?usage: $0 SCENARIO [SERVER ARGS...]}
shift
bin=${BIN:-$(dirname "$0")/../target/release}
# The server may come from another build (SERVER=path/to/callaccess), to
# count a build before a change with the same benchmark.
server_bin=${SERVER:-$bin/callaccess}
duration=${DURATION:-20s}
dir=$(mktemp -d "${TMPDIR:-/tmp}/callaccess-callgrind.XXXXXX")
secret=callgrind-secret-0123456789
"$bin/callaccess-bench" --write-seed "$dir/seed.json" --secret "$secret" --users 10000 --calls 10000 >/dev/null
"$server_bin" --database "sqlite:$dir/db.sqlite" import "$dir/seed.json" >/dev/null
port=$((20000 + RANDOM % 20000))
RUST_LOG=info NO_COLOR=1 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/callgrind.out" \
  "$server_bin" --database "sqlite:$dir/db.sqlite" serve --listen "127.0.0.1:$port" \
  --rate-limit-per-second off --rate-limit-per-day off --log-format text "$@" >/dev/null 2>"$dir/server.log" &
server=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 1; done
load() {
  "$bin/callaccess-bench" --url "http://127.0.0.1:$port" --key CALLACCESSBENCHKEY --secret "$secret" \
    --scenarios "$2" --duration "$1" --warmup 0s --connections 8 --grants 0 --users 10000 --calls 10000 \
    --user-passes 0
}
# Each run of the benchmark takes its PUT pairs from the start again, so a
# PUT warm-up would leave the counted run granting pairs that are granted
# already (no-ops, which record nothing): a PUT scenario warms up on reads.
case $scenario in
  put*) warmup=post1 ;;
  *) warmup=$scenario ;;
esac
requests() {
  curl -s "http://127.0.0.1:$port/metrics" | awk '/^callaccess_http_requests_total/ { n += $NF } END { print n + 0 }'
}
load 5s "$warmup" >"$dir/warmup.txt" 2>&1
before=$(requests)
callgrind_control -i on "$server" >/dev/null
load "$duration" "$scenario" >"$dir/load.txt" 2>&1
callgrind_control -i off "$server" >/dev/null
after=$(requests)
kill -TERM "$server"
wait "$server" || true
callgrind_annotate --inclusive=yes "$dir/callgrind.out" >"$dir/annotated.txt" 2>/dev/null || true
total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$dir/annotated.txt")
served=$((after - before))
echo "requests: $served"
echo "instructions: $total"
echo "instructions per request: $((total / (served > 0 ? served : 1)))"
echo "annotated profile: $dir/annotated.txt"
