#!/usr/bin/env bash
# What a native rollup run says it did (issue 11: "rollup.run_rollup with client_min_messages =
# debug1 says what it did: buckets touched per shard, statements sent"). The messages hold the
# current time (the frontier moves to this minute), so they are checked here with patterns rather
# than in a pg_regress expected file. Single node, 4 shards:
#   a. debug1: one line per shard with its bucket count and ranges, its DELETE and INSERT, and a
#      summary whose row count is what the run returned; nothing at the default level;
#   b. a btree on the target's bucket column (what create_rollup adds): the INSERT has no ORDER BY;
#      a BRIN index there instead: it inserts in bucket order;
#   c. a local target: the ranges and the two statements run in the coordinator.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=test/cluster.sh
source test/cluster.sh
export ROLLUP_COORDINATOR_CONF="${ROLLUP_COORDINATOR_CONF:+$ROLLUP_COORDINATOR_CONF
}rollup.enable_scheduler = off"
cluster_install
cluster_start 0
fails=0
expect() {
    if [ "$2" = "$3" ]; then
        echo "PASS: $1"
    else
        echo "FAIL: $1 (expected '$2', got '$3')"
        fails=$((fails + 1))
    fi
}
q() { cluster_psql "$COORDINATOR_PORT" -Atq -v ON_ERROR_STOP=1 -c "$1"; }
# run <sql>: its messages (stderr) and result (stdout) in one text, with debug1
run_debug() { PGOPTIONS="-c client_min_messages=debug1" cluster_psql "$COORDINATOR_PORT" -Atq -v ON_ERROR_STOP=1 -c "$1" 2>&1; }

cluster_psql "$COORDINATOR_PORT" -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION rollup;
CREATE TABLE raw (site_id int, at timestamptz, v int);
CREATE TABLE agg (site_id int, at timestamptz, n bigint, total bigint);
SELECT create_distributed_table('raw', 'site_id', 4);
SELECT create_distributed_table('agg', 'site_id', 4);
INSERT INTO raw SELECT g % 8, timestamptz '2024-01-01 00:00:00+00' + g * interval '7 seconds', g FROM generate_series(1, 2000) g;
SELECT rollup.create_rollup('r', 'agg', 'SELECT site_id, date_trunc(''minute'', at) AS at, count(*) AS n, sum(v) AS total FROM raw GROUP BY 1, 2');
SQL

# a. the first run, at debug1
out=$(run_debug "SELECT rollup.run_rollup('r')")
rows=$(echo "$out" | tail -n 1)
expect "a run at debug1 returns its row count" "t" "$([ "$rows" -gt 0 ] 2>/dev/null && echo t || echo "$out" | tail -3)"
expect "one line per shard with its buckets" "4" "$(echo "$out" | grep -cE '^DEBUG:  rollup r: shard [0-3] \(public\.raw_[0-9]+ -> public\.agg_[0-9]+ on [a-z0-9.]+:[0-9]+\): [0-9]+ bucket\(s\) in \[')"
expect "a DELETE per shard" "4" "$(echo "$out" | grep -cE '^DEBUG:  rollup r: shard [0-3] statement: DELETE FROM public\.agg_[0-9]+ ')"
expect "an INSERT ... SELECT per shard, reading the co-located source shard" "4" \
    "$(echo "$out" | grep -cE '^DEBUG:  rollup r: shard [0-3] statement: INSERT INTO public\.agg_[0-9]+ .*FROM public\.raw_[0-9]+')"
expect "the summary counts the rows the run returned" "1" \
    "$(echo "$out" | grep -cE "^DEBUG:  rollup r: [0-9]+ bucket\(s\) recomputed on 4 shard\(s\), $rows row\(s\) written; frontier none -> '")"
# b. ORDER BY only for a BRIN index on the target's bucket column
expect "a btree target: no ORDER BY" "0" "$(echo "$out" | grep 'statement: INSERT' | grep -c 'ORDER BY' || true)"
expect "at the default level a run says nothing" "1" "$(q "INSERT INTO raw VALUES (1, '2024-01-01 00:00:30+00', 5); SELECT rollup.run_rollup('r')" 2>&1 | wc -l)"
idx=$(q "SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'agg'::regclass")
q "DROP INDEX $idx; CREATE INDEX agg_at_brin ON agg USING brin (at)"
q "INSERT INTO raw VALUES (2, '2024-01-01 00:01:30+00', 5)"
out=$(run_debug "SELECT rollup.run_rollup('r')")
# (a minute boundary passing since the last run adds that minute to every shard: the checks allow it)
expect "a backfill recomputes its bucket" "1" "$(echo "$out" | grep -cE "shard [0-3] \(.*\): [0-9]+ bucket\(s\) in \['2024-01-01 00:01:00\+00'::pg_catalog.timestamptz, '2024-01-01 00:02:00\+00'::pg_catalog.timestamptz\)(, |$)")"
inserts=$(echo "$out" | grep -c 'statement: INSERT' || true)
expect "a BRIN target: every INSERT in bucket order" "$inserts" "$(echo "$out" | grep 'statement: INSERT' | grep -cE 'ORDER BY [a-z_]+\.at$' || true)"
expect "a BRIN target: at least one INSERT" "t" "$([ "$inserts" -ge 1 ] && echo t || echo f)"
# c. a local target
cluster_psql "$COORDINATOR_PORT" -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE agg_local (site_id int, at timestamptz, n bigint);
SELECT rollup.create_rollup('r_local', 'agg_local', 'SELECT site_id, date_trunc(''hour'', at) AS at, count(*) AS n FROM raw GROUP BY 1, 2');
SQL
out=$(run_debug "SELECT rollup.run_rollup('r_local')")
expect "a local target: its ranges" "1" "$(echo "$out" | grep -cE "^DEBUG:  rollup r_local: local target: [0-9]+ bucket\(s\) in \['2024-01-01 00:00:00\+00'")"
expect "a local target: the DELETE and the INSERT on the table itself" "2" "$(echo "$out" | grep -cE '^DEBUG:  rollup r_local: statement: (DELETE FROM public\.agg_local |INSERT INTO public\.agg_local )')"
expect "a local target: the rows equal a GROUP BY" "0" "$(q "SELECT count(*) FROM ((SELECT site_id, date_trunc('hour', at), count(*) FROM raw GROUP BY 1, 2 EXCEPT ALL SELECT * FROM agg_local) UNION ALL (SELECT * FROM agg_local EXCEPT ALL SELECT site_id, date_trunc('hour', at), count(*) FROM raw GROUP BY 1, 2)) d")"

if [ "$fails" -gt 0 ]; then
    echo "rollup_debug: $fails check(s) failed"
    exit 1
fi
echo "rollup_debug: all checks passed"
