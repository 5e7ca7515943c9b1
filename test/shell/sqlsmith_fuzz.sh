#!/usr/bin/env bash
# Random queries must never crash the coordinator (issue 10): SQLsmith (Debian package sqlsmith)
# sends a bounded, seeded stream of random queries to a coordinator with 2 workers, over the
# tutorial's tables and a table of many column types, all distributed, plus a local table to join.
# The test fails if any backend of the coordinator died by a signal or an assertion (the server log
# says so and crash recovery starts), or if the coordinator does not answer afterwards. Query errors
# are expected (SQLsmith writes many invalid queries) and ignored.
# Environment: FUZZ_QUERIES (default 2500), FUZZ_SEED (default 20261203).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=test/cluster.sh
source test/cluster.sh

if ! command -v sqlsmith >/dev/null; then
    echo "FAIL: sqlsmith is not installed (scripts/install-deps.sh installs it)"
    exit 1
fi
cluster_install
cluster_start 2
port=${CLUSTER_PORT[coordinator]}
q() { cluster_psql "$port" -Atq -v ON_ERROR_STOP=1 -c "$1"; }

q "CREATE EXTENSION IF NOT EXISTS rollup"
for n in worker_1 worker_2; do q "SELECT rollup.add_node('127.0.0.1', ${CLUSTER_PORT[$n]})" >/dev/null; done
cluster_psql "$port" -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE http_request (
  site_id INT, ingest_time TIMESTAMPTZ DEFAULT now(), url TEXT, request_country TEXT,
  ip_address TEXT, status_code INT, response_time_msec INT);
CREATE TABLE http_request_1min (
  site_id INT, ingest_time TIMESTAMPTZ, error_count INT, success_count INT, request_count INT,
  average_response_time_msec INT, CHECK (request_count = error_count + success_count),
  CHECK (ingest_time = date_trunc('minute', ingest_time)));
CREATE INDEX http_request_1min_idx ON http_request_1min (site_id, ingest_time);
SELECT create_distributed_table('http_request', 'site_id', 4);
SELECT create_distributed_table('http_request_1min', 'site_id', 4);
INSERT INTO http_request
SELECT g % 13, timestamptz '2024-03-10 00:00:00+00' + g * interval '17 seconds', '/p/' || (g % 7),
       (ARRAY['US','DE','IN',NULL])[g % 4 + 1], '10.0.0.' || (g % 250), (ARRAY[200,201,404,500])[g % 4 + 1],
       g % 900
  FROM generate_series(1, 3000) g;
INSERT INTO http_request_1min
SELECT site_id, date_trunc('minute', ingest_time), sum(CASE WHEN status_code BETWEEN 200 AND 299 THEN 0 ELSE 1 END),
       sum(CASE WHEN status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END), count(*), avg(response_time_msec)
  FROM http_request GROUP BY 1, 2;
CREATE TABLE kinds (
  id bigint PRIMARY KEY, i2 smallint, i4 int, n numeric(12,3), f4 real, f8 float8, b bool, t text,
  vc varchar(20), c char(3), d date, ts timestamp, tz timestamptz, iv interval, u uuid, j jsonb,
  arr int[], by bytea, ip inet);
SELECT create_distributed_table('kinds', 'id', 4);
INSERT INTO kinds
SELECT g, (g % 300)::smallint, g * 7, g / 7.0, g / 3.0, g / 11.0, g % 2 = 0, 't' || g, 'v' || (g % 50),
       chr(65 + g % 26), date '2024-01-01' + g, timestamp '2024-01-01' + g * interval '1 hour',
       timestamptz '2024-01-01 00:00+00' + g * interval '1 minute', g * interval '1 second',
       md5(g::text)::uuid, jsonb_build_object('k', g, 'a', jsonb_build_array(g, g + 1)),
       ARRAY[g, g + 1], decode(md5(g::text), 'hex'), ('10.1.' || (g % 255) || '.1')::inet
  FROM generate_series(1, 500) g;
UPDATE kinds SET t = NULL, d = NULL, j = NULL WHERE id % 17 = 0;
CREATE TABLE sites (site_id int PRIMARY KEY, name text);
INSERT INTO sites SELECT g, 'site ' || g FROM generate_series(0, 15) g;
ANALYZE;
SQL

queries=${FUZZ_QUERIES:-2500}
seed=${FUZZ_SEED:-20261203}
log=$CLUSTER_BASE/sqlsmith.log
echo "sqlsmith: $queries queries, seed $seed"
# statement_timeout bounds each query; sqlsmith exits after max-queries. Its own exit status says
# nothing about the server (it stops early when it loses the connection: checked below).
set +e
timeout 600 sqlsmith --target="host=127.0.0.1 port=$port dbname=postgres user=postgres options='-c statement_timeout=2000'" \
    --seed="$seed" --max-queries="$queries" --exclude-catalog --verbose >"$log" 2>&1
rc=$?
set -e
tr "\r" "\n" <"$log" | grep -E "queries|error" | tail -n 4 | sed "s/^/sqlsmith: /"
fails=0
crash=$(grep -E "terminated by signal|was terminated by exception|TRAP:|server process .* exited with exit code [^0]" \
    "$CLUSTER_BASE/coordinator.log" | head -5 || true)
if [ -n "$crash" ]; then
    echo "FAIL: a coordinator backend crashed:"
    echo "$crash"
    # the query that was running (the server log names it)
    grep -B2 -A2 "terminated by signal" "$CLUSTER_BASE/coordinator.log" | grep -E "Failed process was running" | head -3
    fails=1
fi
if ! q "SELECT 1" >/dev/null 2>&1; then
    echo "FAIL: the coordinator does not answer after the fuzz run (sqlsmith exit status $rc)"
    fails=1
fi
[ "$fails" = 0 ] && echo "PASS: $queries random queries, no crash"
exit "$fails"
