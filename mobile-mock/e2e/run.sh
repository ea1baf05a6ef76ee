#!/usr/bin/env bash
# The mobile mock's browser test (`make test-e2e`): builds the service and the
# pinned stripe-mock, starts stripe-mock and `mobility serve` on free loopback
# ports over a fresh database on the local PostgreSQL (seeded with the demo
# town, dropped at the end), runs the Node tests in headless Chromium against
# them, and stops everything. The exit code is the tests'.
#
# Needs: Go, Node 20 with npm, /usr/bin/chromium (Debian's `chromium`), and a
# PostgreSQL server that `postgres` can create databases on (E2E_PG_URL,
# default postgres://postgres@127.0.0.1:5432). SCREENSHOTS=1 also writes the
# screenshots of mobile-mock/screenshots/. Failures leave screenshots and the
# server's log in mobile-mock/e2e/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
started=$(date +%s)

E2E=mobile-mock/e2e
ART="$E2E/artifacts"
BIN=.bin
PG="${E2E_PG_URL:-postgres://postgres@127.0.0.1:5432}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
  echo "e2e: $CHROMIUM is missing: apt-get install -y chromium (.ci/run does it)" >&2
  exit 2
fi

rm -rf "$ART"
mkdir -p "$ART" "$BIN"

# Pinned Node dependencies (playwright-core drives the system Chromium; it
# downloads no browser).
if [ ! -f "$E2E/node_modules/.package-lock.json" ] || [ "$E2E/package-lock.json" -nt "$E2E/node_modules/.package-lock.json" ]; then
  (cd "$E2E" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi

go build -o "$BIN/mobility" ./cmd/mobility
go build -o "$BIN/stripe-mock" github.com/stripe/stripe-mock

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

db="mobility_e2e_$(date +%s)_$RANDOM"
mock_pid=""
server_pid=""
db_made=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
  if [ -n "$db_made" ]; then dropdb --if-exists --force --maintenance-db="$PG/postgres" "$db" || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stripe-mock on two free loopback ports (HTTP and HTTPS).
mock_port=$(free_port)
mock_tls=$(free_port)
"$BIN/stripe-mock" -http-addr "127.0.0.1:$mock_port" -https-addr "127.0.0.1:$mock_tls" >"$ART/stripe-mock.log" 2>&1 &
mock_pid=$!

createdb --maintenance-db="$PG/postgres" "$db"
db_made=1

port=$(free_port)
export DATABASE_URL="$PG/$db?sslmode=disable"
export PORT="$port" BIND_ADDR=127.0.0.1 PUBLIC_URL="http://127.0.0.1:$port"
export STRIPE_API_BASE="http://127.0.0.1:$mock_port"
TOKEN_SIGNING_KEY="$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
export TOKEN_SIGNING_KEY
export LOG_FORMAT=text LOG_LEVEL=info
unset STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET

for _ in $(seq 1 100); do
  curl -fsS -o /dev/null -H 'Authorization: Bearer sk_test_mock' "$STRIPE_API_BASE/v1/balance" 2>/dev/null && break
  sleep 0.1
done

"$BIN/mobility" seed >"$ART/seed.log" 2>&1 || { cat "$ART/seed.log" >&2; exit 1; }
"$BIN/mobility" serve --no-migrate >"$ART/server.out" 2>"$ART/server.log" &
server_pid=$!

ready=""
for _ in $(seq 1 150); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then ready=1; break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "e2e: the server did not become ready; its log:" >&2
  tail -n 50 "$ART/server.log" >&2
  exit 1
fi
echo "e2e: server $PUBLIC_URL/app (database $db, stripe-mock :$mock_port), ready after $(( $(date +%s) - started )) s"

set +e
(cd "$E2E" && BASE_URL="$PUBLIC_URL" CHROMIUM="$CHROMIUM" node --test --test-concurrency=1 --test-reporter=spec ./*.test.js)
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "e2e: FAILED — screenshots and logs in $ART/" >&2
fi
echo "e2e: done in $(( $(date +%s) - started )) s"
exit "$rc"
