#!/usr/bin/env bash
# Native rollup benchmark (not a timed test; issue 11). One private cluster (WORKERS, default 0: the
# shards live on the coordinator), SHARDS (default 32) shards, ROWS (default 1M) raw rows of the
# tutorial's http_request spread over one day; same run, same data:
#   - plain PostgreSQL: INSERT INTO a local http_request_1min SELECT ... GROUP BY over a local copy;
#   - the native rollup's first run over the same rows (rollup.run_rollup);
#   - a run with nothing new;
#   - a run over ROWS new rows on a table that already holds BASE_ROWS rows (default 10 x ROWS, all
#     rolled up), against the same run over the same ROWS rows on an empty table: the work is
#     proportional to the new data, not to the table (issue 11: 1M new rows on a 10M-row table,
#     within 20% of the same on an empty one). New rows arrive at the clock (a minute of them
#     after the frontier, the run once that minute is complete), so each of these runs waits up to
#     a minute.
# Each figure is the median of RUNS (default 3); the first-run figures come after a warm-up: the
# plain INSERT into an emptied table, and the first run of a rollup made again over an emptied
# target, alternate.
#   - the tutorial's PL/pgSQL rollup_http_request() over the same rows (its INSERT ... SELECT on the
#     distributed tables, co-located, into a target of its own), for comparison.
# Report: bench/results/rollup-<workers>w.txt unless OUT says otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=test/cluster.sh
source test/cluster.sh
WORKERS=${WORKERS:-0}
SHARDS=${SHARDS:-32}
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
BASE_ROWS=${BASE_ROWS:-$((10 * ROWS))}
OUT=${OUT:-bench/results/rollup-${WORKERS}w.txt}
cluster_install
cluster_start "$WORKERS"
port=${CLUSTER_PORT[coordinator]}
q() { cluster_psql "$port" -Atq -v ON_ERROR_STOP=1 -c "$1"; }
q "CREATE EXTENSION IF NOT EXISTS rollup"
for ((i = 1; i <= WORKERS; i++)); do q "SELECT rollup.add_node('127.0.0.1', ${CLUSTER_PORT[worker_$i]})" >/dev/null; done
ms() {  # ms <sql>: wall time of one statement in milliseconds
    local t0 t1
    t0=$(date +%s%N)
    q "$1" >/dev/null
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}
cluster_psql "$port" -q -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE http_request (site_id INT, ingest_time TIMESTAMPTZ DEFAULT now(), url TEXT, request_country TEXT,
  ip_address TEXT, status_code INT, response_time_msec INT);
CREATE TABLE http_request_1min (site_id INT, ingest_time TIMESTAMPTZ, error_count INT, success_count INT,
  request_count INT, average_response_time_msec INT);
CREATE TABLE plain_request (LIKE http_request);
CREATE TABLE plain_1min (LIKE http_request_1min);
-- The same table as the rollup's target: create_rollup gives a target a btree on its bucket column.
CREATE INDEX ON plain_1min (ingest_time);
SELECT create_distributed_table('http_request', 'site_id', $SHARDS);
SELECT create_distributed_table('http_request_1min', 'site_id', $SHARDS);
INSERT INTO plain_request (site_id, ingest_time, url, status_code, response_time_msec)
SELECT (g::bigint * 7919) % 1000, timestamptz '2024-03-10 00:00+00' + (g % 86400) * interval '1 second', '/p',
       (ARRAY[200,200,200,404,500])[g % 5 + 1], g % 900
  FROM generate_series(1, $ROWS) g;
INSERT INTO http_request SELECT * FROM plain_request;
VACUUM ANALYZE plain_request;
VACUUM ANALYZE http_request;
CHECKPOINT;
SQL
query="SELECT site_id, date_trunc('minute', ingest_time) AS ingest_time, COUNT(1) AS request_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END) AS success_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END) AS error_count,
         SUM(response_time_msec) / COUNT(1) AS average_response_time_msec"
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%d\n", (a[NR/2]+a[NR/2+1])/2}'; }
create="SELECT rollup.create_rollup('rollup_http_request', 'http_request_1min', \$\$ $query FROM http_request GROUP BY 1, 2 \$\$)"
plains="" firsts="" nothings=""
for ((k = 0; k <= RUNS; k++)); do
    echo "first runs: $k of $RUNS (0 is the warm-up)" >&2
    q "TRUNCATE plain_1min; CHECKPOINT" >/dev/null
    p=$(ms "INSERT INTO plain_1min (site_id, ingest_time, request_count, success_count, error_count, average_response_time_msec) $query FROM plain_request GROUP BY 1, 2")
    q "SELECT rollup.drop_rollup('rollup_http_request') FROM rollup.rollups WHERE name = 'rollup_http_request'" >/dev/null
    q "TRUNCATE http_request_1min" >/dev/null
    q "$create" >/dev/null
    q "CHECKPOINT" >/dev/null
    f=$(ms "SELECT rollup.run_rollup('rollup_http_request')")
    n=$(ms "SELECT rollup.run_rollup('rollup_http_request')")
    if [ "$k" -gt 0 ]; then plains+=" $p" firsts+=" $f" nothings+=" $n"; fi
done
plain=$(echo "$plains" | median)
first=$(echo "$firsts" | median)
nothing=$(echo "$nothings" | median)
same=$(q "SELECT (SELECT count(*) FROM (SELECT site_id, ingest_time, request_count FROM plain_1min EXCEPT ALL SELECT site_id, ingest_time, request_count FROM http_request_1min) d) = 0")
# The tutorial's PL/pgSQL rollup on the same rows, for comparison: its INSERT ... SELECT runs on the
# distributed tables (co-located, shard by shard) into a target of its own, from an empty state.
cluster_psql "$port" -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE tut_1min (LIKE http_request_1min);
SELECT create_distributed_table('tut_1min', 'site_id', colocate_with => 'http_request');
CREATE TABLE latest_rollup (minute timestamptz PRIMARY KEY, CHECK (minute = date_trunc('minute', minute)));
INSERT INTO latest_rollup VALUES ('10-10-1901');
CREATE FUNCTION tutorial_rollup() RETURNS void AS $$
DECLARE
  curr_rollup_time timestamptz := date_trunc('minute', now());
  last_rollup_time timestamptz := minute from latest_rollup;
BEGIN
  INSERT INTO tut_1min (site_id, ingest_time, request_count, success_count, error_count, average_response_time_msec)
  SELECT site_id, date_trunc('minute', ingest_time), COUNT(1) as request_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END) as success_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END) as error_count,
         SUM(response_time_msec) / COUNT(1) AS average_response_time_msec
  FROM http_request
  WHERE date_trunc('minute', ingest_time) <@ tstzrange(last_rollup_time, curr_rollup_time, '(]')
  GROUP BY 1, 2;
  UPDATE latest_rollup SET minute = curr_rollup_time;
END;
$$ LANGUAGE plpgsql;
SQL
tutorials=""
for ((k = 0; k <= RUNS; k++)); do
    echo "the tutorial's function: $k of $RUNS (0 is the warm-up)" >&2
    q "TRUNCATE tut_1min; UPDATE latest_rollup SET minute = '10-10-1901'; CHECKPOINT" >/dev/null
    t=$(ms "SELECT tutorial_rollup()")
    if [ "$k" -gt 0 ]; then tutorials+=" $t"; fi
done
tutorial=$(echo "$tutorials" | median)
# New rows arrive at the clock: a run materializes the complete buckets up to the current minute,
# so rows stamped in the past land below the frontier (a backfill). The new rows of each timed run
# are stamped in the minute after the frontier of the run before, and the run starts once that
# minute is complete: ROWS rows in one minute (every site), on a table of BASE_ROWS rows that are
# all rolled up, against the same ROWS rows on an empty table (a fresh source and rollup, first run).
add_day() {  # add_day <day number>: ROWS rows on that day after the first (below the frontier)
    q "INSERT INTO http_request (site_id, ingest_time, url, status_code, response_time_msec)
       SELECT (g::bigint * 7919) % 1000, timestamptz '2024-03-10 00:00+00' + $1 * interval '1 day' + (g % 86400) * interval '1 second', '/p',
              (ARRAY[200,200,200,404,500])[g % 5 + 1], g % 900 FROM generate_series(1, $ROWS) g" >/dev/null
}
add_minute() {  # add_minute <table> <start of the minute>: ROWS rows in that minute
    q "INSERT INTO $1 (site_id, ingest_time, url, status_code, response_time_msec)
       SELECT (g::bigint * 7919) % 1000, timestamptz '$2' + (g % 60000) * interval '1 millisecond', '/p',
              (ARRAY[200,200,200,404,500])[g % 5 + 1], g % 900 FROM generate_series(1, $ROWS) g" >/dev/null
}
wait_until() {  # wait_until <timestamptz>: until the clock has passed it
    while [ "$(q "SELECT now() > timestamptz '$1'")" != t ]; do sleep 1; done
}
base_days=$(((BASE_ROWS + ROWS - 1) / ROWS))
for ((d = 1; d < base_days; d++)); do
    echo "growing the table to $BASE_ROWS rows: day $((d + 1)) of $base_days" >&2
    add_day "$d"
done
q "SELECT rollup.run_rollup('rollup_http_request')" >/dev/null
base_count=$(q "SELECT count(*) FROM http_request")
seconds="" empties=""
for ((k = 1; k <= RUNS; k++)); do
    echo "a minute of $ROWS new rows on the $base_count-row table: $k of $RUNS (waits for the minute to end)" >&2
    f=$(q "SELECT frontier FROM rollup.rollups WHERE name = 'rollup_http_request'")
    add_minute http_request "$f"
    q "ANALYZE http_request; CHECKPOINT" >/dev/null
    wait_until "$(q "SELECT timestamptz '$f' + interval '1 minute'")"
    seconds+=" $(ms "SELECT rollup.run_rollup('rollup_http_request')")"
    echo "the same minute of rows on an empty table: $k of $RUNS (waits for the minute to end)" >&2
    cluster_psql "$port" -q -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE fresh_request (LIKE http_request);
CREATE TABLE fresh_1min (LIKE http_request_1min);
SELECT create_distributed_table('fresh_request', 'site_id', $SHARDS, colocate_with => 'http_request');
SELECT create_distributed_table('fresh_1min', 'site_id', $SHARDS, colocate_with => 'http_request');
SELECT rollup.create_rollup('fresh_rollup', 'fresh_1min', \$\$ $query FROM fresh_request GROUP BY 1, 2 \$\$);
SQL
    f=$(q "SELECT date_trunc('minute', now())")
    add_minute fresh_request "$f"
    q "ANALYZE fresh_request; CHECKPOINT" >/dev/null
    wait_until "$(q "SELECT timestamptz '$f' + interval '1 minute'")"
    empties+=" $(ms "SELECT rollup.run_rollup('fresh_rollup')")"
    q "SELECT rollup.drop_rollup('fresh_rollup'); DROP TABLE fresh_request, fresh_1min" >/dev/null
done
empty=$(echo "$empties" | median)
second=$(echo "$seconds" | median)
{
    echo "# native rollup benchmark: $ROWS rows, $SHARDS shards, $WORKERS workers, $(date -u +%FT%TZ), $(nproc) cores; medians of $RUNS after a warm-up"
    echo "plain PostgreSQL INSERT ... SELECT ... GROUP BY (local tables): ${plain} ms"
    echo "native rollup, first run over the same rows:                   ${first} ms  (plain/native $(awk "BEGIN{printf \"%.2f\", $plain/$first}")x)"
    echo "native rollup, run with nothing new:                           ${nothing} ms  ($(awk "BEGIN{printf \"%.1f\", 100*$nothing/$first}")% of the first run)"
    echo "the tutorial's PL/pgSQL rollup on the same rows (distributed): ${tutorial} ms  (tutorial/native $(awk "BEGIN{printf \"%.2f\", $tutorial/$first}")x)"
    echo "native rollup, run over a minute of $ROWS new rows on a $base_count- to $((base_count + (RUNS - 1) * ROWS))-row table: ${second} ms; the same on an empty table: ${empty} ms  ($(awk "BEGIN{printf \"%.2f\", $second/$empty}")x; target <= 1.2x)"
    echo "# each: plain$plains; first$firsts; nothing new$nothings; on the big table$seconds; on an empty one$empties; tutorial$tutorials"
    echo "target equals the plain GROUP BY: $same"
} | tee "$OUT"
