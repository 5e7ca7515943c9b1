#!/usr/bin/env bash
# Real-time view benchmark (not a timed test; issue 12). One private cluster (WORKERS, default 0: the
# shards live on the coordinator), SHARDS (default 32) shards, ROWS (default 10M) raw rows of the
# tutorial's http_request over the last 24 hours (1000 sites, a few hot), rolled up per minute, then
# more rows in the current minutes (the tail a real-time view computes from raw rows). Same run,
# same data, the tutorial's dashboard query (the last 5 minutes, per site and minute):
#   - on the raw rows of a plain local table (PostgreSQL's own plan, parallel workers allowed);
#   - on the real-time view (target below the frontier + the raw tail above it);
#   - on a plain local table that holds the rollup's rows (the same indexes as the target).
# Each query: one warm-up, then the median of REPEAT (default 7) runs.
# Report: bench/results/realtime-<workers>w.txt unless OUT says otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=test/cluster.sh
source test/cluster.sh
WORKERS=${WORKERS:-0}
SHARDS=${SHARDS:-32}
ROWS=${ROWS:-10000000}
REPEAT=${REPEAT:-7}
OUT=${OUT:-bench/results/realtime-${WORKERS}w.txt}
cluster_install
cluster_start "$WORKERS"
port=${CLUSTER_PORT[coordinator]}
q() { cluster_psql "$port" -Atq -v ON_ERROR_STOP=1 -c "$1"; }
q "CREATE EXTENSION IF NOT EXISTS rollup"
for ((i = 1; i <= WORKERS; i++)); do q "SELECT rollup.add_node('127.0.0.1', ${CLUSTER_PORT[worker_$i]})" >/dev/null; done
# median_ms <sql>: one warm-up, then the median wall time of REPEAT runs, in milliseconds (psql's
# own \timing, so connection set-up is not counted).
median_ms() {
    local sql=$1 times
    times=$(cluster_psql "$port" -Atq -v ON_ERROR_STOP=1 <<SQL | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n "$REPEAT" | sort -n
\o /dev/null
$sql;
\timing on
$(for ((r = 0; r < REPEAT; r++)); do echo "$sql;"; done)
SQL
)
    echo "$times" | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'
}
echo "loading $ROWS rows..." >&2
cluster_psql "$port" -q -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE http_request (site_id INT, ingest_time TIMESTAMPTZ DEFAULT now(), url TEXT, request_country TEXT,
  ip_address TEXT, status_code INT, response_time_msec INT);
CREATE TABLE http_request_1min (site_id INT, ingest_time TIMESTAMPTZ, error_count INT, success_count INT,
  request_count INT, average_response_time_msec INT);
CREATE INDEX http_request_1min_idx ON http_request_1min (site_id, ingest_time);
CREATE TABLE plain_request (LIKE http_request);
SELECT create_distributed_table('http_request', 'site_id', $SHARDS);
SELECT create_distributed_table('http_request_1min', 'site_id', $SHARDS);
-- A day up to the start of this minute, in time order (as events arrive); a few hot sites.
INSERT INTO plain_request (site_id, ingest_time, url, request_country, status_code, response_time_msec)
SELECT CASE WHEN g % 10 < 3 THEN g % 5 ELSE (g::bigint * 7919) % 1000 END,
       date_trunc('minute', now()) - interval '1 day' + (g::float8 / $ROWS) * interval '1 day', '/p', 'NZ',
       (ARRAY[200,200,200,404,500])[g % 5 + 1], g % 900
  FROM generate_series(1, $ROWS) g;
SQL
# Into the distributed table in time order, an hour at a time, as events arrive (a shard's rows in
# time order is what lets its BRIN index bound the tail).
for ((h = 0; h < 24; h++)); do
    q "INSERT INTO http_request SELECT * FROM plain_request
        WHERE ingest_time >= date_trunc('minute', now()) - interval '1 day' + $h * interval '1 hour'
          AND ingest_time < date_trunc('minute', now()) - interval '1 day' + $((h + 1)) * interval '1 hour'" >/dev/null
done
query="SELECT site_id, date_trunc('minute', ingest_time) AS ingest_time, COUNT(1) AS request_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END) AS success_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END) AS error_count,
         SUM(response_time_msec) / COUNT(1) AS average_response_time_msec"
q "SELECT rollup.create_rollup('rollup_http_request', 'http_request_1min', \$\$ $query FROM http_request GROUP BY 1, 2 \$\$)" >/dev/null
q "SELECT rollup.run_rollup('rollup_http_request')" >/dev/null
q "SELECT rollup.create_realtime_view('rollup_http_request', 'http_request_live')" >/dev/null
# The plain rollup table: the same rows in time order (as a rollup table filled minute by minute
# holds them), and a btree on time (the best a plain table gets) beside the tutorial's index.
cluster_psql "$port" -q -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE plain_1min AS SELECT * FROM http_request_1min ORDER BY ingest_time;
CREATE INDEX ON plain_1min (site_id, ingest_time);
CREATE INDEX ON plain_1min (ingest_time);
-- The tail: rows of the current minute, above the frontier, in both raw tables (one transaction:
-- one now()).
BEGIN;
INSERT INTO plain_request (site_id, ingest_time, url, request_country, status_code, response_time_msec)
SELECT (g::bigint * 7919) % 1000, now(), '/p', 'NZ', (ARRAY[200,200,200,404,500])[g % 5 + 1], g % 900
  FROM generate_series(1, $((ROWS / 1440))) g;
INSERT INTO http_request SELECT * FROM plain_request WHERE ingest_time = now();
COMMIT;
VACUUM ANALYZE plain_request;
VACUUM ANALYZE plain_1min;
ANALYZE http_request;  -- reaches every shard
ANALYZE http_request_1min;
CHECKPOINT;
SQL
dash_raw="SELECT site_id, date_trunc('minute', ingest_time) as minute, COUNT(1) AS request_count,
  SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END) as success_count,
  SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END) as error_count,
  SUM(response_time_msec) / COUNT(1) AS average_response_time_msec
FROM plain_request WHERE date_trunc('minute', ingest_time) > now() - '5 minutes'::interval GROUP BY site_id, minute"
dash_view() { echo "SELECT site_id, ingest_time as minute, request_count, success_count, error_count, average_response_time_msec
FROM $1 WHERE ingest_time > date_trunc('minute', now()) - '5 minutes'::interval"; }
# The same window on both sides for the check (the tutorial's raw query compares with now(), the view
# query with the minute).
raw_same_window="SELECT site_id, date_trunc('minute', ingest_time), COUNT(1),
  SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END), SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END),
  SUM(response_time_msec) / COUNT(1)
FROM plain_request WHERE date_trunc('minute', ingest_time) > date_trunc('minute', now()) - '5 minutes'::interval GROUP BY 1, 2"
same=$(q "SELECT count(*) = 0 FROM (($raw_same_window EXCEPT ALL $(dash_view http_request_live)) UNION ALL ($(dash_view http_request_live) EXCEPT ALL $raw_same_window)) d")
raw=$(median_ms "$dash_raw")
view=$(median_ms "$(dash_view http_request_live)")
plain=$(median_ms "$(dash_view plain_1min)")
site_view=$(median_ms "$(dash_view http_request_live) AND site_id = 7")
site_plain=$(median_ms "$(dash_view plain_1min) AND site_id = 7")
explain=$(cluster_psql "$port" -X -q -c "EXPLAIN (ANALYZE, COSTS OFF) $(dash_view http_request_live)")
{
    echo "# real-time view benchmark: $ROWS rows over 24 h + $((ROWS / 1440)) in the current minute, $SHARDS shards, $WORKERS workers, $(date -u +%FT%TZ), $(nproc) cores; medians of $REPEAT"
    echo "dashboard query (last 5 minutes), raw rows of a plain table:   ${raw} ms"
    echo "dashboard query on the real-time view:                        ${view} ms  (raw/view $(awk "BEGIN{printf \"%.0f\", $raw/$view}")x; target >= 100x)"
    echo "dashboard query on a plain table of the rollup's rows:        ${plain} ms  (view/plain $(awk "BEGIN{printf \"%.2f\", $view/$plain}")x; target <= 2x)"
    echo "one site (site_id = 7), real-time view / plain rollup table:  ${site_view} / ${site_plain} ms"
    echo "the view's answer equals the raw query's: $same"
    echo
    echo "EXPLAIN ANALYZE of the dashboard query on the real-time view:"
    echo "$explain"
} | tee "$OUT"
