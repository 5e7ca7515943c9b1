#!/usr/bin/env bash
# Ingest benchmark (not a timed test). Same cluster, same run: a distributed table (32 shards; with
# WORKERS=0 they live on the coordinator, i.e. single-node mode) against a plain local table with
# the same columns (the tutorial's http_request), for:
#   - single-row INSERT, 1 client and 8 clients (pgbench custom script, prepared protocol);
#   - 1000-row multi-row INSERT ... VALUES (pgbench, 1 client);
#   - COPY of ROWS rows (default 1M) from a server-side file.
# Targets, as ratios distributed/plain: COPY >= 0.8, 1000-row INSERT >= 0.5, single-row 1 client
# >= 0.7, 8 clients >= 0.6.
# Each figure is the median of RUNS (default 3) measurements after a warm-up; plain and distributed
# runs alternate, so that a checkpoint or a busy moment hits both sides alike.
# Settings: WORKERS (default 0), DURATION (seconds per pgbench run, default 5), RUNS (default 3), ROWS,
# SHARDS (default 32), COPY_ONLY=1 (skip the pgbench parts), COPY_RUNS (plain/distributed COPY
# pairs, default RUNS; the first pair is a warm-up unless COPY_RUNS is 1),
# BENCH_CONF (extra postgresql.conf lines, e.g. "rollup.enable_local_execution = off" to measure the
# loopback path), OUT (report file).
# Report: bench/results/ingest-<workers>w.txt unless OUT says otherwise
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-0}
DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
ROWS=${ROWS:-1000000}
SHARDS=${SHARDS:-32}
COPY_ONLY=${COPY_ONLY:-0}
COPY_RUNS=${COPY_RUNS:-$RUNS}
source test/cluster.sh
cluster_install
ROLLUP_EXTRA_CONF="shared_buffers = 256MB
max_wal_size = 4GB
jit = off
${BENCH_CONF:-}" cluster_start "$WORKERS"
out=${OUT:-bench/results/ingest-${WORKERS}w.txt}
tmp=$CLUSTER_BASE/bench
mkdir -p "$tmp"
chmod 777 "$tmp"
psql_c() { cluster_psql "$COORDINATOR_PORT" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_c <<SQL
CREATE EXTENSION rollup;
SELECT rollup.add_node('127.0.0.1', p) FROM unnest(string_to_array('${WORKER_1_PORT:-}${WORKER_2_PORT:+,$WORKER_2_PORT}', ',')::int[]) p WHERE $WORKERS > 0;
CREATE TABLE http_request (site_id int, ingest_time timestamptz DEFAULT now(), url text, request_country text,
                           ip_address text, status_code int, response_time_msec int);
CREATE TABLE plain_request (LIKE http_request INCLUDING DEFAULTS);
SELECT create_distributed_table('http_request', 'site_id', $SHARDS);
SQL

single=$tmp/single.sql
cat >"$single" <<'EOF'
\set site random(1, 1000)
INSERT INTO TABLE (site_id, ingest_time, url, request_country, ip_address, status_code, response_time_msec)
VALUES (:site, now(), 'http://example.com/index.html', 'India', '10.0.0.7', 200, 42);
EOF
multi=$tmp/multi.sql
{
    echo "INSERT INTO TABLE (site_id, ingest_time, url, request_country, ip_address, status_code, response_time_msec) VALUES"
    for i in $(seq 1 1000); do
        sep=","; [ "$i" = 1000 ] && sep=";"
        echo "($((i % 997)), now(), 'http://example.com/page/$i', 'USA', '10.1.$((i % 250)).$((i % 200))', $(( (i % 2) ? 200 : 404 )), $((5 + i % 150)))$sep"
    done
} >"$multi"

pgbench_tps() { # <script> <table> <clients>
    local script=$tmp/run-$2.sql
    sed "s/TABLE/$2/" "$1" >"$script"
    chmod a+r "$script"
    cluster_as_pg_pgbench "$script" "$3" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
cluster_as_pg_pgbench() {
    "$CLUSTER_BINDIR/pgbench" -h 127.0.0.1 -p "$COORDINATOR_PORT" -U postgres -n -M prepared \
        -f "$1" -c "$2" -j "$2" -T "$DURATION" postgres 2>&1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

declare -A R
if [ "$COPY_ONLY" != 1 ]; then
    for w in single1 single8 multi; do
        case $w in
            single1) script=$single clients=1 what="single-row INSERT, 1 client" ;;
            single8) script=$single clients=8 what="single-row INSERT, 8 clients" ;;
            multi) script=$multi clients=1 what="1000-row INSERT" ;;
        esac
        echo "$what: warm-up, then $RUNS runs of ${DURATION} s per table, alternating" >&2
        DURATION=2 pgbench_tps "$script" plain_request "$clients" >/dev/null
        DURATION=2 pgbench_tps "$script" http_request "$clients" >/dev/null
        declare -A runs=([plain_request]="" [http_request]="")
        for k in $(seq 1 "$RUNS"); do
            for t in plain_request http_request; do runs[$t]+=" $(pgbench_tps "$script" "$t" "$clients")"; done
        done
        for t in plain_request http_request; do R[${w}_$t]=$(echo "${runs[$t]}" | median); done
        unset runs
    done
fi

echo "COPY of $ROWS rows" >&2
data=$tmp/copy.data
psql_c -c "TRUNCATE plain_request; TRUNCATE http_request;"
psql_c -c "COPY (SELECT i % 1000, '2024-01-01'::timestamptz + i * interval '1 ms', 'http://example.com/' || (i % 97),
                       (ARRAY['China','India','USA','Indonesia'])[1 + i % 4], '10.0.' || (i % 250) || '.' || (i % 199),
                       (ARRAY[200, 404])[1 + i % 2], 5 + i % 150
                  FROM generate_series(1, $ROWS) i) TO '$data'"
copy_secs() { # <table>
    psql_c -c "CHECKPOINT" >/dev/null
    local t0 t1
    t0=$(date +%s.%N)
    psql_c -c "COPY $1 FROM '$data'" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
copy_plain="" copy_dist=""
for k in $(seq 1 "$COPY_RUNS"); do
    echo "COPY pair $k of $COPY_RUNS" >&2
    p=$(copy_secs plain_request)
    d=$(copy_secs http_request)
    # the first of several pairs warms the caches up and is not counted
    if [ "$k" -gt 1 ] || [ "$COPY_RUNS" = 1 ]; then copy_plain+=" $p" copy_dist+=" $d"; fi
done
R[copy_plain_request]=$(echo "$copy_plain" | median)
R[copy_http_request]=$(echo "$copy_dist" | median)
counted=$((COPY_RUNS > 1 ? COPY_RUNS - 1 : 1))
stored=$(psql_c -At -c "SELECT sum(row_count) FROM rollup.shard_stats('http_request')")

{
    echo "# ingest benchmark: distributed ($SHARDS shards, $WORKERS workers) vs plain table, same cluster, same run"
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, pgbench -M prepared -T $DURATION, medians of $RUNS after a warm-up (COPY: of $counted)${BENCH_CONF:+, settings: $BENCH_CONF}"
    printf "%-32s %14s %14s %8s %8s\n" "workload" "plain" "distributed" "ratio" "target"
    if [ "$COPY_ONLY" != 1 ]; then
        printf "%-32s %14s %14s %8s %8s\n" "single-row INSERT, 1 client" "${R[single1_plain_request]} tps" "${R[single1_http_request]} tps" "$(ratio "${R[single1_http_request]}" "${R[single1_plain_request]}")" ">=0.7"
        printf "%-32s %14s %14s %8s %8s\n" "single-row INSERT, 8 clients" "${R[single8_plain_request]} tps" "${R[single8_http_request]} tps" "$(ratio "${R[single8_http_request]}" "${R[single8_plain_request]}")" ">=0.6"
        printf "%-32s %14s %14s %8s %8s\n" "1000-row INSERT, 1 client" "${R[multi_plain_request]} tps" "${R[multi_http_request]} tps" "$(ratio "${R[multi_http_request]}" "${R[multi_plain_request]}")" ">=0.5"
    fi
    printf "%-32s %14s %14s %8s %8s\n" "COPY $ROWS rows (median)" "${R[copy_plain_request]} s" "${R[copy_http_request]} s" "$(ratio "${R[copy_plain_request]}" "${R[copy_http_request]}")" ">=0.8"
    echo "# COPY seconds per pair after the warm-up (plain / distributed):$copy_plain /$copy_dist"
    echo "# rows in the distributed table after the $COPY_RUNS COPYs: $stored (expected $((COPY_RUNS * ROWS)))"
} | tee "$out"
