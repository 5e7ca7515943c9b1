#!/usr/bin/env bash
# `make demo`: the real-time dashboard tutorial, end to end, on a private local cluster.
#
#   NODES=0 (default)  the coordinator alone: single-node mode, shards live on the coordinator
#   NODES=2            a coordinator and two stock PostgreSQL workers
#   DEMO_ROWS=1000     rows the sample-data step inserts
#   DEMO_WAIT=70       seconds to wait for the scheduler's first runs (0: do not wait)
#   KEEP=1             keep the data directories and logs (see test/cluster.sh)
#
# Runs the tutorial's SQL (scripts/tutorial/*.sql, verbatim but for the bounded data loop) step by
# step. A step that needs a part of rollup that has not landed yet fails with "... not supported":
# the demo says so, skips what depends on it, and still exits 0. Any other error fails the demo.
# Every server started here is stopped when the script exits, whatever happens (test/cluster.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NODES=${NODES:-0}
DEMO_ROWS=${DEMO_ROWS:-1000}
TUTORIAL=scripts/tutorial
# shellcheck source=test/cluster.sh
source test/cluster.sh

[[ $NODES =~ ^[0-9]+$ ]] || { echo "NODES must be a number of workers (0, 2, ...)" >&2; exit 2; }
[[ $DEMO_ROWS =~ ^[0-9]+$ ]] || { echo "DEMO_ROWS must be a number" >&2; exit 2; }

banner() { printf '\n==== %s\n' "$*"; }

DEMO_WAIT=${DEMO_WAIT:-70}
[[ $DEMO_WAIT =~ ^[0-9]+$ ]] || { echo "DEMO_WAIT must be a number of seconds" >&2; exit 2; }

cluster_install
# The scheduler works in the demo's database.
export ROLLUP_COORDINATOR_CONF="${ROLLUP_COORDINATOR_CONF:+$ROLLUP_COORDINATOR_CONF
}rollup.scheduler_database = 'demo'"
cluster_start "$NODES"

# The coordinator reaches its shards in the database of the same name on every node.
export PGDATABASE=demo
for node in "${CLUSTER_NODES[@]}"; do
    PGDATABASE=postgres cluster_psql "${CLUSTER_PORT[$node]}" -q -c 'CREATE DATABASE demo'
done
psql_demo() { cluster_psql "$COORDINATOR_PORT" "$@"; }

banner "CREATE EXTENSION rollup$([ "$NODES" -gt 0 ] && echo ", and add the $NODES workers")"
psql_demo -q -c 'CREATE EXTENSION rollup'
for ((i = 1; i <= NODES; i++)); do
    port_var=WORKER_${i}_PORT
    psql_demo -At -c "SELECT 'worker_$i: node ' || rollup.add_node('127.0.0.1', ${!port_var})"
done
[ "$NODES" -gt 0 ] || echo "(no worker: single-node mode, the shards will live on the coordinator)"

# run_step <title> <file> [psql args...]: prints the statements and their results. Returns 0 when
# the step worked, 3 when it needs something rollup does not do yet; exits on any other failure.
missing=()
run_step() {
    local title=$1 file=$2 out rc=0
    shift 2
    banner "$title ($file)"
    out=$(psql_demo -a "$@" -f "$TUTORIAL/$file" 2>&1) || rc=$?
    printf '%s\n' "$out"
    [ "$rc" = 0 ] && return 0
    if grep -q 'not supported' <<<"$out"; then
        echo "---- not implemented yet: $(grep -m1 'ERROR:' <<<"$out" | sed 's/^.*ERROR: *//')"
        missing+=("$title")
        return 3
    fi
    echo "demo: step \"$title\" failed (output above)" >&2
    exit 1
}

skip() { banner "$1"; echo "---- skipped: $2"; missing+=("$1"); }

run_step "Create the tutorial's tables" 01_create_tables.sql
run_step "Shard tables across nodes" 02_distribute.sql

banner "Where the shards went"
psql_demo -c "SELECT table_name, distribution_column, column_type, shard_count, colocation_id, node_count
                FROM rollup.tables ORDER BY table_name" \
          -c "SELECT s.table_name, CASE WHEN n.is_coordinator THEN 'coordinator' ELSE s.host || ':' || s.port END AS node,
                     count(*) AS shards, min(s.shardid) AS first_shard, max(s.shardid) AS last_shard
                FROM rollup.shards s JOIN rollup.nodes n USING (nodeid)
               GROUP BY 1, 2 ORDER BY 1, 2"

data=0
if run_step "Generate sample data ($DEMO_ROWS rows)" 03_generate_data.sql -c "SET demo.rows = $DEMO_ROWS"; then
    data=1
    psql_demo -c "SELECT sum(row_count) AS rows_in_shards, count(*) FILTER (WHERE row_count > 0) AS shards_with_rows
                    FROM rollup.shard_stats('http_request')"
fi

# Distributed reads: a SELECT must see the rows stored in the shards (the coordinator's own table
# is always empty, so without distributed reads a query silently finds nothing).
reads=0
if [ "$data" = 1 ]; then
    seen=$(psql_demo -At -c "SELECT count(*) FROM http_request" 2>&1) || seen="error: $seen"
    stored=$(psql_demo -At -c "SELECT sum(row_count) FROM rollup.shard_stats('http_request')")
    if [ "$seen" = "$stored" ]; then
        reads=1
    else
        skip "Distributed reads" "SELECT count(*) FROM http_request returns $seen, the shards hold $stored rows: queries on distributed tables do not read the shards yet"
    fi
fi

if [ "$reads" = 1 ]; then
    run_step "Query: requests per minute, last 5 minutes" 04_dashboard_query.sql || true
    if run_step "Performing rollups: the tutorial's rollup function" 05_rollup_function.sql &&
        run_step "Run the rollup" 06_run_rollup.sql; then
        run_step "Query the rolled-up table" 07_query_rollup.sql || true
    fi
    run_step "Expiring old data" 08_expire.sql || true
else
    why="needs $([ "$data" = 1 ] && echo "distributed reads" || echo "distributed INSERT (sample data)")"
    skip "Query: requests per minute, last 5 minutes" "$why"
    skip "Performing rollups" "$why"
    skip "Expiring old data" "$why"
fi

if [ "$reads" = 1 ] && run_step "Schedule the rollup and the expiry in the server" 09_schedule.sql; then
    if [ "$DEMO_WAIT" -gt 0 ]; then
        banner "Waiting up to $DEMO_WAIT s for the scheduler's first runs"
        for ((w = 0; w < DEMO_WAIT; w += 5)); do
            n=$(psql_demo -At -c "SELECT count(*) FROM rollup.job_runs WHERE status <> 'running'")
            [ "$n" -ge 1 ] && break
            sleep 5
        done
        psql_demo -c "SELECT job_name, status, rows, started, duration, message
                        FROM rollup.job_runs ORDER BY started"
    fi
fi

if [ "$reads" = 1 ]; then
    TUTORIAL=scripts/native
    run_step "Beyond the tutorial: the same rollup, native and exact" 10_native_rollup.sql || true
    TUTORIAL=scripts/tutorial
fi

banner "Summary"
echo "cluster: coordinator$([ "$NODES" -gt 0 ] && echo " + $NODES workers") on 127.0.0.1, database demo (stopped on exit)"
if [ ${#missing[@]} -eq 0 ]; then
    echo "every tutorial step ran"
else
    echo "tutorial steps not run yet (rollup does not do them yet):"
    printf '  - %s\n' "${missing[@]}"
fi
