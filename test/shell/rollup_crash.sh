#!/usr/bin/env bash
# Native rollup runs under faults (issue 11): a run is one distributed transaction, so a crash in the
# middle of one must leave the target as it was, and the next run must make it exact: no cell
# doubled, none lost, the frontier where the committed runs left it.
# A coordinator and two workers; raw has 4 shards, agg (the target) too. A trigger on one shard of
# agg on worker_1 holds the run inside its INSERT (pg_sleep) while the harness:
#   a. kills the coordinator (immediate stop: every backend dies, crash recovery) and starts it again;
#   b. stops worker_2 (immediate) while the run waits on worker_1, then starts it again;
#   c. kills the backend that runs the rollup (SIGKILL: the postmaster restarts every backend);
#   d. kills the coordinator in the middle of an expiry (rollup.expire held in its DELETE on a raw
#      shard of worker_1 by the same kind of trigger): nothing expired, nothing left prepared; a
#      new expiry takes the old rows, and the target stays exact for every cell with raw rows.
# After each: the run failed (or was killed), the target equals what the last committed run left,
# nothing is left prepared once recovery ran, and a new run makes the target equal a from-scratch
# GROUP BY of the raw rows below the frontier.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=test/cluster.sh
source test/cluster.sh

export ROLLUP_COORDINATOR_CONF="${ROLLUP_COORDINATOR_CONF:+$ROLLUP_COORDINATOR_CONF
}rollup.enable_scheduler = off"
cluster_install
cluster_start 2

q() { cluster_psql "$COORDINATOR_PORT" -Atq -c "$1"; }
qn() { cluster_psql "$1" -Atq -c "$2"; }
fails=0
expect() {
    if [ "$2" = "$3" ]; then
        echo "PASS: $1"
    else
        echo "FAIL: $1 (expected '$2', got '$3')"
        fails=$((fails + 1))
    fi
}

q "CREATE EXTENSION rollup"
for n in worker_1 worker_2; do q "SELECT rollup.add_node('127.0.0.1', ${CLUSTER_PORT[$n]})" >/dev/null; done
cluster_psql "$COORDINATOR_PORT" -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE raw (site_id int, at timestamptz, v int);
CREATE TABLE agg (site_id int, at timestamptz, n bigint, total bigint);
SELECT create_distributed_table('raw', 'site_id', 4);
SELECT create_distributed_table('agg', 'site_id', 4);
INSERT INTO raw SELECT g % 9, now() - interval '3 hours' + g * interval '1 second', g FROM generate_series(1, 9000) g;
SELECT rollup.create_rollup('r', 'agg',
  'SELECT site_id, date_trunc(''minute'', at) AS at, count(*) AS n, sum(v) AS total FROM raw GROUP BY 1, 2');
SELECT rollup.run_rollup('r');
-- Target rows that differ from a from-scratch GROUP BY of the raw rows below the frontier (both
-- directions), and cells present twice.
CREATE FUNCTION diff() RETURNS bigint LANGUAGE sql AS $$
  WITH f AS (SELECT frontier FROM rollup.rollups WHERE name = 'r'),
  truth AS (SELECT site_id, date_trunc('minute', at) AS at, count(*) AS n, sum(v) AS total
              FROM raw WHERE at < (SELECT frontier FROM f) GROUP BY 1, 2)
  SELECT (SELECT count(*) FROM (SELECT * FROM truth EXCEPT ALL SELECT * FROM agg) a)
       + (SELECT count(*) FROM (SELECT * FROM agg EXCEPT ALL SELECT * FROM truth) b)
       + (SELECT count(*) - count(DISTINCT (site_id, at)) FROM agg) $$;
SQL
expect "setup: the first run is exact" 0 "$(q "SELECT diff()")"

# The shard of agg on worker_1 that site 1 goes to: a statement-level trigger sleeps in the run's
# INSERT there (the run's other shards are written meanwhile, in the same distributed transaction).
shard=$(q "SELECT shard_name FROM rollup.shards WHERE table_name = 'agg'::regclass AND port = ${CLUSTER_PORT[worker_1]} LIMIT 1")
qn "${CLUSTER_PORT[worker_1]}" "CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS \$\$
  BEGIN PERFORM pg_sleep(60); RETURN NULL; END \$\$;
  CREATE TRIGGER hold BEFORE INSERT ON $shard FOR EACH STATEMENT EXECUTE FUNCTION hold()" >/dev/null

# new rows: a backfill below the frontier and rows above it, committed before each run.
write_rows() {
    q "INSERT INTO raw SELECT g % 9, now() - interval '2 hours' + g * interval '3 seconds', 100000 + g
         FROM generate_series(1, 300) g;
       INSERT INTO raw SELECT g % 9, now() - interval '10 minutes' + g * interval '1 second', g FROM generate_series(1, 300) g" >/dev/null
}
# start_run: the rollup in the background; waits until worker_1 sleeps in the trigger.
start_run() {
    RUN_LOG=$CLUSTER_BASE/run_$1.log
    cluster_psql "$COORDINATOR_PORT" -Atq -c "SELECT rollup.run_rollup('r')" >"$RUN_LOG" 2>&1 &
    RUN_PID=$!
    CLUSTER_CHILD_PIDS+=("$RUN_PID")
    local i
    for ((i = 0; i < 200; i++)); do
        [ "$(qn "${CLUSTER_PORT[worker_1]}" "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")" -ge 1 ] && return 0
        sleep 0.1
    done
    echo "FAIL: $1: the run never reached the trigger"
    cat "$RUN_LOG"
    fails=$((fails + 1))
    return 1
}
# release: ends the sleeping statement on worker_1 (its coordinator may be gone).
release() {
    qn "${CLUSTER_PORT[worker_1]}" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" >/dev/null || true
}
# after <name>: no run left half-done; a new run (trigger disabled) makes the target exact.
after() {
    wait "$RUN_PID" 2>/dev/null || true
    q "SELECT rollup.recover_prepared_transactions()" >/dev/null
    local n left=0
    for n in worker_1 worker_2; do left=$((left + $(qn "${CLUSTER_PORT[$n]}" "SELECT count(*) FROM pg_prepared_xacts"))); done
    expect "$1: nothing left prepared after recovery" 0 "$left"
    expect "$1: the target is what the last committed run left" "$2" "$(q "SELECT count(*) || ':' || sum(n) FROM agg")"
    expect "$1: the frontier did not move" "$3" "$(q "SELECT frontier FROM rollup.rollups WHERE name = 'r'")"
    qn "${CLUSTER_PORT[worker_1]}" "ALTER TABLE $shard DISABLE TRIGGER hold" >/dev/null
    q "SELECT rollup.run_rollup('r')" >/dev/null
    expect "$1: the next run makes the target exact" 0 "$(q "SELECT diff()")"
    qn "${CLUSTER_PORT[worker_1]}" "ALTER TABLE $shard ENABLE TRIGGER hold" >/dev/null
}

# a. the coordinator dies in the middle of a run
write_rows
before=$(q "SELECT count(*) || ':' || sum(n) FROM agg")
frontier=$(q "SELECT frontier FROM rollup.rollups WHERE name = 'r'")
if start_run a; then
    cluster_node_stop coordinator immediate
    release
    cluster_node_start coordinator
    expect "a: the run did not succeed" 1 "$(grep -c 'server closed the connection\|terminating connection\|connection to server' "$RUN_LOG" | awk '{print ($1 > 0)}')"
    after a "$before" "$frontier"
fi

# b. a worker dies while the run waits on the other one
write_rows
before=$(q "SELECT count(*) || ':' || sum(n) FROM agg")
frontier=$(q "SELECT frontier FROM rollup.rollups WHERE name = 'r'")
if start_run b; then
    cluster_node_stop worker_2 immediate
    release
    wait "$RUN_PID" 2>/dev/null || true
    expect "b: the run failed with a connection error" 1 "$(grep -c 'ERROR' "$RUN_LOG" | awk '{print ($1 > 0)}')"
    cluster_node_start worker_2
    after b "$before" "$frontier"
fi

# c. the backend running the rollup is killed (SIGKILL): the postmaster restarts every backend
write_rows
before=$(q "SELECT count(*) || ':' || sum(n) FROM agg")
frontier=$(q "SELECT frontier FROM rollup.rollups WHERE name = 'r'")
if start_run c; then
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT rollup.run_rollup%' AND pid <> pg_backend_pid()")
    kill -9 "$pid"
    release
    for ((i = 0; i < 100; i++)); do q "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
    after c "$before" "$frontier"
fi

# d. the coordinator dies in the middle of an expiry
q "SELECT rollup.set_retention('raw', 'at', '2 hours 30 minutes')" >/dev/null
rawshard=$(q "SELECT shard_name FROM rollup.shards WHERE table_name = 'raw'::regclass AND port = ${CLUSTER_PORT[worker_1]} LIMIT 1")
qn "${CLUSTER_PORT[worker_1]}" "CREATE TRIGGER hold_delete BEFORE DELETE ON $rawshard FOR EACH STATEMENT EXECUTE FUNCTION hold()" >/dev/null
q "SELECT rollup.run_rollup('r')" >/dev/null
raw_before=$(q "SELECT count(*) FROM raw")
before=$(q "SELECT count(*) || ':' || sum(n) FROM agg")
frontier=$(q "SELECT frontier FROM rollup.rollups WHERE name = 'r'")
old_rows=$(q "SELECT count(*) FROM raw WHERE at < now() - interval '2 hours 31 minutes'")
expect "d: there are rows old enough to expire" 1 "$([ "$old_rows" -gt 0 ] && echo 1 || echo 0)"
EXPIRE_LOG=$CLUSTER_BASE/expire_d.log
cluster_psql "$COORDINATOR_PORT" -Atq -c "SELECT rollup.expire('raw')" >"$EXPIRE_LOG" 2>&1 &
RUN_PID=$!
CLUSTER_CHILD_PIDS+=("$RUN_PID")
held=0
for ((i = 0; i < 200; i++)); do
    [ "$(qn "${CLUSTER_PORT[worker_1]}" "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")" -ge 1 ] && { held=1; break; }
    sleep 0.1
done
expect "d: the expiry reached the trigger" 1 "$held"
if [ "$held" = 1 ]; then
    cluster_node_stop coordinator immediate
    release
    cluster_node_start coordinator
    wait "$RUN_PID" 2>/dev/null || true
    q "SELECT rollup.recover_prepared_transactions()" >/dev/null
    left=0
    for n in worker_1 worker_2; do left=$((left + $(qn "${CLUSTER_PORT[$n]}" "SELECT count(*) FROM pg_prepared_xacts"))); done
    expect "d: nothing left prepared after recovery" 0 "$left"
    expect "d: the killed expiry deleted nothing" "$raw_before" "$(q "SELECT count(*) FROM raw")"
    expect "d: the target is as it was" "$before" "$(q "SELECT count(*) || ':' || sum(n) FROM agg")"
    expect "d: the frontier did not move" "$frontier" "$(q "SELECT frontier FROM rollup.rollups WHERE name = 'r'")"
    qn "${CLUSTER_PORT[worker_1]}" "ALTER TABLE $rawshard DISABLE TRIGGER hold_delete" >/dev/null
    expect "d: a new expiry takes the old rows" t "$(q "SELECT rollup.expire('raw') > 0")"
    expect "d: no row older than the cutoff is left" 0 "$(q "SELECT count(*) FROM raw WHERE at < now() - interval '2 hours 31 minutes'")"
    q "SELECT rollup.run_rollup('r')" >/dev/null
    expect "d: every cell with raw rows equals their GROUP BY" 0 "$(q "
      WITH f AS (SELECT frontier FROM rollup.rollups WHERE name = 'r'),
      truth AS (SELECT site_id, date_trunc('minute', at) AS at, count(*) AS n, sum(v) AS total
                  FROM raw WHERE at < (SELECT frontier FROM f) GROUP BY 1, 2),
      got AS (SELECT * FROM agg WHERE (site_id, at) IN (SELECT site_id, at FROM truth))
      SELECT (SELECT count(*) FROM (SELECT * FROM truth EXCEPT ALL SELECT * FROM got) a)
           + (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM truth) b)")"
    expect "d: the expired cells keep their rolled-up rows" "$before" "$(q "SELECT count(*) || ':' || sum(n) FROM agg")"
fi

expect "the rollup reports no error after its last run" "" "$(q "SELECT coalesce(last_error, '') FROM rollup.rollups WHERE name = 'r'")"
if [ "$fails" = 0 ]; then
    echo "rollup_crash: all passed"
else
    echo "rollup_crash: $fails failed"
    exit 1
fi
