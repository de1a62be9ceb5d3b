#!/usr/bin/env bash
# Runs the worked example of README.md ("Using callaccess in your test
# suite") exactly as the README prints it: its shell block, with its Python
# script beside it, in an empty folder, with `callaccess` on PATH. CI runs
# this, so the example cannot drift from the service.
#
#   scripts/suite-example.sh            # uses target/debug/callaccess
#   CALLACCESS_BIN=path/to/callaccess scripts/suite-example.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CALLACCESS_BIN:-$root/target/debug/callaccess}
[ -x "$bin" ] || { echo "no callaccess binary at $bin (cargo build first)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "the example needs python3" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/callaccess-example.XXXXXX")
group=""
cleanup() {
  if [ -n "$group" ]; then kill -- "-$group" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The fenced block after the marker line `<!-- suite-example:NAME -->`.
block() {
  awk -v marker="<!-- suite-example:$1 -->" '
    $0 == marker { found = 1; next }
    found && /^```/ { if (open) exit; open = 1; next }
    found && open { print }
  ' "$root/README.md"
}
block shell >"$work/run.sh"
block python >"$work/suite_example.py"
[ -s "$work/run.sh" ] && [ -s "$work/suite_example.py" ] || {
  echo "README.md has no suite-example blocks" >&2; exit 1; }

# A free port, so a service already on 8080 does not answer instead.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$work/bin"
ln -s "$bin" "$work/bin/callaccess"
cd "$work"
# In a session of its own, so the server the block starts in the background
# is stopped with it.
PATH="$work/bin:$PATH" CALLACCESS_LISTEN="127.0.0.1:$port" CALLACCESS_URL="http://127.0.0.1:$port" \
  setsid bash -e run.sh &
group=$!
wait "$group"
