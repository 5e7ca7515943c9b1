#!/usr/bin/env bash
# `make demo`: the real-time dashboard tutorial, end to end, on a private local cluster.
#
#   NODES=0 (default)  the coordinator alone: single-node mode, shards live on the coordinator
#   NODES=2            a coordinator and two stock PostgreSQL workers
#   DEMO_ROWS=1000     rows the sample-data step inserts
#   DEMO_WAIT=0        seconds to wait for the scheduler's first runs of the tutorial's job
#   DURATION=120       seconds of the live part (Ctrl-C ends it early, the report is still written)
#   RATE=2000          rows per second the ingest generator sends (in batches of BATCH=20 rows,
#                      one transaction each, from GEN_CLIENTS=4 connections, like a web tier)
#   KEEP_RAW='2 minutes'  retention of raw rows in the live part (rolled-up minutes stay)
#   REPORT=demo/report.html  where the report goes
#   KEEP=1             keep the data directories and logs (see test/cluster.sh)
#
# Runs the tutorial's SQL (scripts/tutorial/*.sql, verbatim but for the bounded data loop) step by
# step, then the native rollup (scripts/native/), then the live part (scripts/live/): an ingest
# generator (pgbench), the native rollup scheduled in the server every 5 s, a real-time view,
# retention, and a dashboard redrawn every second in the terminal (a frame every 5 s when the
# output is not a terminal); at the end demo/report.html. A step that needs a part of rollup that has
# not landed yet fails with "... not supported": the demo says so, skips what depends on it, and
# still exits 0. Any other error fails the demo. Every server and process started here is stopped
# when the script exits, whatever happens (test/cluster.sh); `make demo-stop` cleans up after a run
# that was killed.
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

DEMO_WAIT=${DEMO_WAIT:-0}
DURATION=${DURATION:-120}
RATE=${RATE:-2000}
BATCH=${BATCH:-20}
GEN_CLIENTS=${GEN_CLIENTS:-4}
KEEP_RAW=${KEEP_RAW:-2 minutes}
REPORT=${REPORT:-demo/report.html}
for v in DURATION RATE BATCH GEN_CLIENTS; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || { echo "$v must be a positive number" >&2; exit 2; }
done
[[ $DEMO_WAIT =~ ^[0-9]+$ ]] || { echo "DEMO_WAIT must be a number of seconds" >&2; exit 2; }

cluster_install
# The scheduler works in the demo's database.
export ROLLUP_COORDINATOR_CONF="${ROLLUP_COORDINATOR_CONF:+$ROLLUP_COORDINATOR_CONF
}rollup.scheduler_database = 'demo'"
cluster_start "$NODES"
# `make demo-stop` finds this cluster if the script is killed before it can stop it.
mkdir -p demo
echo "$CLUSTER_BASE" >demo/.running

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

live=0
if [ "$reads" = 1 ] && psql_demo -At -c "SELECT 1 FROM rollup.rollups WHERE name = 'rollup_http_request_native'" | grep -q 1; then
    banner "Live: ingest at $RATE rows/s, native rollup every 5 s, real-time view, retention $KEEP_RAW ($DURATION s)"
    psql_demo -q -v keep_raw="$KEEP_RAW" -f scripts/live/20_live_setup.sql >/dev/null
    run_started=$(psql_demo -At -c "SELECT now()")
    tx_rate=$(((RATE + BATCH - 1) / BATCH))
    "$CLUSTER_BINDIR/pgbench" -n -h 127.0.0.1 -p "$COORDINATOR_PORT" -U postgres \
        -c "$GEN_CLIENTS" -j 2 -T "$DURATION" -R "$tx_rate" -D batch="$BATCH" \
        -f scripts/live/generator.sql demo >"$CLUSTER_BASE/generator.log" 2>&1 </dev/null &
    gen_pid=$!
    CLUSTER_CHILD_PIDS+=("$gen_pid")
    # Ctrl-C ends the live part (and the generator) early; the report is still written.
    stop_live=0
    trap 'stop_live=1' INT
    tty=0
    [ -t 1 ] && tty=1
    [ "$tty" = 1 ] && printf '\033[2J'
    # One session for the whole dashboard, as a dashboard server keeps its connections: the
    # latency it shows is the query's, not a connection set-up's.
    coproc DASH { cluster_psql "$COORDINATOR_PORT" -At -q -v ON_ERROR_STOP=0 2>&1; }
    dash_in=${DASH[1]}
    dash_out=${DASH[0]}
    dash_pid=$DASH_PID
    CLUSTER_CHILD_PIDS+=("$dash_pid")
    dash_query() {
        local line out=""
        printf '%s\n\\echo __frame_end__\n' "$1" >&"$dash_in" || return 1
        while IFS= read -r -t 10 line <&"$dash_out"; do
            [ "$line" = "__frame_end__" ] && break
            out+="$line"$'\n'
        done
        printf '%s' "$out"
    }
    end=$((SECONDS + DURATION))
    frame_no=0
    while [ "$SECONDS" -lt "$end" ] && [ "$stop_live" = 0 ]; do
        t0=$(date +%s%N)
        frame=$(dash_query "SELECT demo.frame('$run_started', $(tput cols 2>/dev/null || echo 100));") || frame="(the dashboard session ended)"
        if [ "$tty" = 1 ]; then
            printf '\033[H%s\033[J' "$frame"
        elif [ $((frame_no % 5)) = 0 ]; then
            printf '%s\n----\n' "$frame"
        fi
        frame_no=$((frame_no + 1))
        elapsed=$((($(date +%s%N) - t0) / 1000000))
        [ "$elapsed" -lt 1000 ] && sleep "0.$(printf '%03d' $((1000 - elapsed)))"
    done
    trap 'exit 130' INT
    exec {dash_in}>&- || true
    wait "$dash_pid" 2>/dev/null || true
    # The generator ends by itself after DURATION seconds (and prints its summary); Ctrl-C stops it.
    if [ "$stop_live" = 1 ]; then kill "$gen_pid" 2>/dev/null || true; fi
    for ((w = 0; w < 50; w++)); do kill -0 "$gen_pid" 2>/dev/null || break; sleep 0.2; done
    kill "$gen_pid" 2>/dev/null || true
    wait "$gen_pid" 2>/dev/null || true
    [ "$tty" = 1 ] && printf '%s\n' "$frame"
    banner "Generator"
    grep -E "number of transactions actually processed|tps =|latency average" "$CLUSTER_BASE/generator.log" ||
        echo "(stopped before its summary; $(psql_demo -At -c "SELECT count(*) FROM http_request WHERE ingest_time >= '$run_started'") rows ingested during the run)"
    mkdir -p "$(dirname "$REPORT")"
    psql_demo -At -c "SELECT demo.report('$run_started', 'NODES=$NODES RATE=$RATE BATCH=$BATCH GEN_CLIENTS=$GEN_CLIENTS DURATION=$DURATION KEEP_RAW=$KEEP_RAW')" >"$REPORT"
    psql_demo -q -c "\copy (SELECT * FROM demo.sample WHERE at >= '$run_started' ORDER BY at) TO '${REPORT%.html}-samples.csv' CSV HEADER"
    banner "Report"
    echo "written: $REPORT (open it in a browser; samples in ${REPORT%.html}-samples.csv)"
    live=1
else
    skip "Live dashboard" "needs the native rollup step"
fi

banner "Summary"
echo "cluster: coordinator$([ "$NODES" -gt 0 ] && echo " + $NODES workers") on 127.0.0.1, database demo (stopped on exit)"
if [ ${#missing[@]} -eq 0 ]; then
    echo "every tutorial step ran"
else
    echo "tutorial steps not run yet (rollup does not do them yet):"
    printf '  - %s\n' "${missing[@]}"
fi
rm -f demo/.running
