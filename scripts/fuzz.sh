#!/usr/bin/env bash
# Fuzzes callaccess against its own OpenAPI document with schemathesis.
#
#   scripts/fuzz.sh [EXAMPLES]     # EXAMPLES per operation and phase, default 6000
#
# Builds the server, starts it on a temporary database seeded with one
# company (rate limits off), and runs schemathesis against /openapi.json with
# the checks that say "no 5xx, and every answer matches the document". The
# report (with the number of generated test cases) is printed; the exit code
# is schemathesis's. CI runs it with a small EXAMPLES.
set -euo pipefail
cd "$(dirname "$0")/.."

examples=${1:-6000}
venv=target/fuzz-venv
# A virtualenv holds absolute paths: one copied or moved with the checkout
# no longer runs, and is made again.
if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'schemathesis==4.32.5'
fi

cargo build --quiet --bin callaccess
work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/seed.json" <<'JSON'
{"companies": [{
  "id": "1000000000000000001",
  "name": "Fuzz",
  "rateLimit": {"perSecond": "off", "perDay": "off"},
  "apiKeys": [{"accessKey": "FUZZKEY", "accessKeySecret": "fuzz-secret-0123456789"}],
  "workspaces": [{"id": "623457276584334", "name": "Sales", "description": "Sales team"}],
  "profiles": [
    {"id": "3843152912968920037", "workspaceId": "623457276584334", "name": "Managers",
     "callsAccess": {"permissionLevel": "report-to-them", "teamLeadIds": []}, "scoreCalls": true}
  ],
  "users": [
    {"id": "1", "emailAddress": "a@fuzz.test", "callsAccess": "none"},
    {"id": "2", "emailAddress": "b@fuzz.test", "callsAccess": "own", "managerId": "4"},
    {"id": "3", "emailAddress": "c@fuzz.test", "callsAccess": "all"},
    {"id": "4", "emailAddress": "d@fuzz.test", "firstName": "Dee", "profileIds": ["3843152912968920037"]}
  ],
  "calls": [
    {"id": "1", "primaryUserId": "2", "started": "2026-11-02T15:00:00Z"},
    {"id": "7782342274025937895", "primaryUserId": "2", "participantIds": ["3"],
     "isPrivate": true, "started": "2026-11-03T15:00:00Z", "direction": "Conference",
     "clientUniqueId": "fuzz-1"}
  ],
  "shares": [{"callId": "1", "userId": "1"}]
}]}
JSON

./target/debug/callaccess serve --listen 127.0.0.1:0 --database "sqlite:$work/db.sqlite" \
  --seed "$work/seed.json" --log-format json 2> "$work/server.log" &
server=$!
# The server logs its address once it is bound.
base=""
for _ in $(seq 1 600); do
  base=$(grep -o '"message":"listening on http://[^"]*' "$work/server.log" | sed 's/.*listening on //' || true)
  [ -n "$base" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "the server did not start"; cat "$work/server.log"; exit 1; }

status=0
"$venv/bin/schemathesis" run "$base/openapi.json" \
  --auth FUZZKEY:fuzz-secret-0123456789 \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "$examples" \
  --workers 2 \
  --suppress-health-check all \
  --continue-on-failure || status=$?

server_errors=$(grep -c '"status":5' "$work/server.log" || true)
requests=$(grep -c '"message":"request' "$work/server.log" || true)
echo "server: $requests requests logged, $server_errors answered 5xx"
[ "$server_errors" = 0 ] || status=1
exit "$status"
