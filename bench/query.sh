#!/usr/bin/env bash
# Distributed query benchmark (not a timed test). Same cluster, same run, same rows:
#   - the tutorial's dashboard query over ROWS raw rows: distributed (32 shards) vs a plain table
#     with max_parallel_workers_per_gather 0 and 2;
#   - the dashboard query on a 320-row rollup table (32 shards) vs the plain table;
#   - router query (site_id = k) vs a local primary-key lookup;
#   - count(*) over 32 empty shards.
# The raw rows carry millisecond timestamps (as an event stream's ingest times do: nearly every row
# its own value) spread over the 10 minutes up to 30 minutes ahead, so that the dashboard's "last
# 5 minutes" filter keeps every row during the whole run: every measurement aggregates all ROWS rows.
# (With only a few hundred distinct timestamps PostgreSQL estimates the groups of date_trunc well;
# with realistic ones it misestimates them and sorts, as the issue describes.)
# Settings: ROWS (default 1000000), WORKERS (0: single node, shards on the coordinator; 2: two
# workers), REPEAT (timed runs per query, median reported), BENCH_CONF (postgresql.conf lines for
# every node; default: PostgreSQL's own defaults (shared_buffers 128MB, work_mem 4MB, jit on) with
# max_parallel_workers_per_gather = 2; e.g. BENCH_CONF="shared_buffers = 512MB ..." for another setup),
# OUT (report file). Report: bench/results/query-<rows>-<workers>w.txt unless OUT says otherwise
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
WORKERS=${WORKERS:-0}
REPEAT=${REPEAT:-5}
source test/cluster.sh
cluster_install
BENCH_CONF=${BENCH_CONF:-"max_parallel_workers_per_gather = 2"}
ROLLUP_EXTRA_CONF="$BENCH_CONF" cluster_start "$WORKERS"
out=${OUT:-bench/results/query-${ROWS}-${WORKERS}w.txt}
psql_c() { cluster_psql "$COORDINATOR_PORT" -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "loading $ROWS rows ($WORKERS workers)" >&2
psql_c <<SQL
CREATE EXTENSION rollup;
SELECT rollup.add_node('127.0.0.1', p) FROM unnest(string_to_array('${WORKER_1_PORT:-}${WORKER_2_PORT:+,$WORKER_2_PORT}', ',')::int[]) p WHERE $WORKERS > 0;
CREATE TABLE http_request (site_id int, ingest_time timestamptz DEFAULT now(), url text, request_country text,
                           ip_address text, status_code int, response_time_msec int);
CREATE TABLE plain_request (LIKE http_request);
INSERT INTO plain_request
SELECT i % 1000, now() + interval '30 minutes' - ((i::bigint * 7919 % 600000) * interval '1 millisecond'), 'http://example.com/' || (i % 20), 'NL', '10.0.0.1',
       (ARRAY[200, 200, 200, 404, 500])[1 + i % 5], i % 1500
  FROM generate_series(1, $ROWS) i;
INSERT INTO http_request SELECT * FROM plain_request;
SELECT create_distributed_table('http_request', 'site_id');
CREATE TABLE http_request_1min (site_id int, ingest_time timestamptz, error_count int, success_count int,
                                request_count int, average_response_time_msec int);
CREATE TABLE plain_1min (LIKE http_request_1min);
INSERT INTO plain_1min SELECT i % 64, date_trunc('minute', now()) - (i / 64) * interval '1 minute', 1, 9, 10, 100
  FROM generate_series(0, 319) i;
INSERT INTO http_request_1min SELECT * FROM plain_1min;
SELECT create_distributed_table('http_request_1min', 'site_id');
CREATE TABLE empty_dist (id int, v int);
SELECT create_distributed_table('empty_dist', 'id');
CREATE TABLE kv (k int PRIMARY KEY, v text);
INSERT INTO kv SELECT i, 'v' || i FROM generate_series(1, 100000) i;
CREATE TABLE kv_dist (k int PRIMARY KEY, v text);
INSERT INTO kv_dist SELECT * FROM kv;
SELECT create_distributed_table('kv_dist', 'k');
VACUUM ANALYZE plain_request, plain_1min, kv;
SQL
# (shards were filled by create_distributed_table; vacuum them on their nodes)
for p in $COORDINATOR_PORT ${WORKER_1_PORT:-} ${WORKER_2_PORT:-}; do cluster_psql "$p" -X -q -c "VACUUM ANALYZE" >/dev/null || true; done
# The load and VACUUM left GBs of dirty pages: write them out now, so that neither side is measured
# while the checkpointer and the kernel flush them.
for p in $COORDINATOR_PORT ${WORKER_1_PORT:-} ${WORKER_2_PORT:-}; do cluster_psql "$p" -X -q -c "CHECKPOINT" >/dev/null || true; done
sync
sleep 5

dashboard() {
    cat <<SQL
SELECT site_id, date_trunc('minute', ingest_time) as minute, COUNT(1) AS request_count,
       SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END) as success_count,
       SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END) as error_count,
       SUM(response_time_msec) / COUNT(1) AS average_response_time_msec
  FROM $1
 WHERE date_trunc('minute', ingest_time) > now() - '5 minutes'::interval
 GROUP BY site_id, minute ORDER BY minute ASC
SQL
}
rollup_q() {
    cat <<SQL
SELECT site_id, ingest_time as minute, request_count, success_count, error_count, average_response_time_msec
  FROM $1 WHERE ingest_time > date_trunc('minute', now()) - '5 minutes'::interval
SQL
}

# median_ms <setup sql> <query> [n]: median wall time of n runs (ms), measured by psql \timing
median_ms() {
    local setup=$1 q=$2 n=${3:-$REPEAT}
    { echo "$setup"; echo "$q;"; echo '\timing on'; for ((i = 0; i < n; i++)); do echo "$q;"; done; } |
        psql_c -o /dev/null 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# Memory: the sum of PSS (proportional set size: shared pages split among the processes mapping
# them) of every server process of the cluster (postmasters, backends, node sessions, workers),
# sampled every 20 ms while one query runs in a fresh session, minus the same sum at rest just
# before. peak_mem_mb <setup sql> <query>: that peak growth in MB (the query runs 3 times in its
# session, so that a short query is not missed between two samples).
cluster_pids() {
    local n pm
    for n in "${CLUSTER_NODES[@]}"; do
        pm=$(head -1 "${CLUSTER_DATADIR[$n]}/postmaster.pid" 2>/dev/null) || continue
        echo "$pm"
        pgrep -P "$pm" || true
    done
}
pss_kb() {
    local s=0 p v
    for p in $(cluster_pids); do
        v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
        s=$((s + ${v:-0}))
    done
    echo "$s"
}
peak_mem_mb() {
    local setup=$1 q=$2 base peak cur pid
    sleep 1
    base=$(pss_kb)
    peak=$base
    { echo "$setup"; echo "$q;"; echo "$q;"; echo "$q;"; } | psql_c -o /dev/null &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        cur=$(pss_kb)
        ((cur > peak)) && peak=$cur
        sleep 0.02
    done
    wait "$pid"
    echo $(((peak - base) / 1024))
}

{
    echo "rollup query benchmark: $ROWS raw rows, $WORKERS workers, 32 shards, $(nproc) cores, median of $REPEAT"
    echo "date: $(date -u +%FT%TZ); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "settings: $(echo "$BENCH_CONF" | tr '\n' ';' | sed 's/;$//')"
    d=$(median_ms "" "$(dashboard http_request)")
    p0=$(median_ms "SET max_parallel_workers_per_gather = 0;" "$(dashboard plain_request)")
    p2=$(median_ms "SET max_parallel_workers_per_gather = 2;" "$(dashboard plain_request)")
    echo "dashboard, distributed:            $d ms"
    echo "dashboard, plain (no parallel):    $p0 ms  -> rollup is $(echo "$p0 / $d" | bc -l | cut -c1-5)x faster"
    echo "dashboard, plain (2 workers):      $p2 ms  -> rollup is $(echo "$p2 / $d" | bc -l | cut -c1-5)x faster"
    md=$(peak_mem_mb "" "$(dashboard http_request)")
    mp=$(peak_mem_mb "SET max_parallel_workers_per_gather = 2;" "$(dashboard plain_request)")
    echo "memory during the dashboard query (peak growth of the PSS of all server processes): distributed +$md MB; plain (2 workers) +$mp MB; extra $((md - mp)) MB"
    r=$(median_ms "" "$(rollup_q http_request_1min)" 50)
    rp=$(median_ms "" "$(rollup_q plain_1min)" 50)
    echo "rollup table (320 rows), distributed: $r ms; plain: $rp ms (ratio $(echo "$r / $rp" | bc -l | cut -c1-5))"
    rt=$(median_ms "" "SELECT v FROM kv_dist WHERE k = 4242" 200)
    lt=$(median_ms "" "SELECT v FROM kv WHERE k = 4242" 200)
    echo "router lookup: $rt ms; local primary-key lookup: $lt ms (ratio $(echo "$rt / $lt" | bc -l | cut -c1-5))"
    e=$(median_ms "" "SELECT count(*) FROM empty_dist" 50)
    echo "count(*) over 32 empty shards: $e ms"
    echo "plans:"
    psql_c -c "EXPLAIN (COSTS OFF) $(dashboard http_request)" -c "EXPLAIN (COSTS OFF) $(rollup_q http_request_1min)"
} | tee "$out"
