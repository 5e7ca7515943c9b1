#!/usr/bin/env bash
# Two-phase commit under faults (needs servers stopped and restarted, which pg_regress cannot do).
# A coordinator and two workers; table f has 4 shards, two on each worker; f_expected is a local
# table given the same statements whenever a write is meant to land.
#   a. the coordinator commits but leaves the prepared transactions on the workers
#      (rollup.testing_skip_commit_prepared, as if it crashed right after its commit); worker_2 is
#      stopped (immediate) and started again; rollup.recover_prepared_transactions() commits them:
#      every row exactly once, nothing left prepared, no record left;
#   b. the coordinator's transaction fails after every node prepared (rollup.testing_fail_after_prepare):
#      the abort rolls the prepared transactions back, no row lands; and a prepared transaction of
#      ours that has no record (a coordinator crash before its commit) is rolled back by recovery;
#   c. a worker stopped (immediate) inside a transaction that wrote to both workers: COMMIT fails
#      naming the node, nothing is committed on the other worker, the table is whole after restart;
#      once for each worker;
#   d. a worker down for a plain read: a clear connection error naming host:port, the session stays
#      usable, and after the restart the same session reads again (its dead connection is replaced);
#   e. the scheduler resolves leftover prepared transactions on its own once enabled;
#   g. so does the launcher's recovery worker in a database other than rollup.scheduler_database.
# Usage: bash test/shell/twophase_recovery.sh   (PASS/FAIL lines; exit status 1 on any failure)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=test/cluster.sh
source test/cluster.sh

# Recovery runs when the test calls it: the scheduler would resolve the leftovers every 30 s on its
# own (scenario e turns it on).
export ROLLUP_COORDINATOR_CONF="${ROLLUP_COORDINATOR_CONF:+$ROLLUP_COORDINATOR_CONF
}rollup.enable_scheduler = off"
cluster_install
cluster_start 2

q() { cluster_psql "$COORDINATOR_PORT" -Atq -c "$1"; }
qn() { cluster_psql "$1" -Atq -c "$2"; }  # qn <port> <sql>
fails=0
check() {  # check <name> <condition already evaluated: 0 ok>
    if [ "$2" = 0 ]; then echo "PASS: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi
}
# expect <name> <expected> <actual>
expect() {
    if [ "$2" = "$3" ]; then
        echo "PASS: $1"
    else
        echo "FAIL: $1 (expected '$2', got '$3')"
        fails=$((fails + 1))
    fi
}
prepared_on() { qn "$1" "SELECT count(*) FROM pg_prepared_xacts"; }
# rows_on <port> <condition>: rows of f's shards on one worker, read there directly.
rows_on() {
    local sql
    sql=$(q "SELECT string_agg('SELECT count(*) FROM ' || shard_name || ' WHERE ' || \$w\$$2\$w\$, ' UNION ALL ')
             FROM rollup.shards WHERE table_name = 'f'::regclass AND port = $1")
    qn "$1" "SELECT sum(count) FROM ($sql) s"
}
# Rows of f and of f_expected, compared as a whole, plus duplicates of the key across shards.
same_rows() {
    q "SELECT (SELECT string_agg(k || ':' || v, ',' ORDER BY k) FROM f) IS NOT DISTINCT FROM
              (SELECT string_agg(k || ':' || v, ',' ORDER BY k) FROM f_expected)
          AND (SELECT count(*) = count(DISTINCT k) FROM f)"
}

# A psql session that stays open while servers stop and start: statements go in through a FIFO;
# sess_run waits until psql has run them (and printed their results and errors to the log).
sess_n=0
sess_open() {
    SESS_LOG=$CLUSTER_BASE/session_$((++sess_n)).log
    SESS_SEEN=0
    local fifo=$CLUSTER_BASE/session_$sess_n.in
    mkfifo "$fifo"
    cluster_psql "$COORDINATOR_PORT" -v ON_ERROR_STOP=0 -At <"$fifo" >"$SESS_LOG" 2>&1 &
    SESS_PID=$!
    CLUSTER_CHILD_PIDS+=("$SESS_PID")
    exec 7>"$fifo"
}
sess_run() {  # sess_run <sql>: returns once psql is done with it
    local mark="__done_$RANDOM$RANDOM" i
    printf '%s\n\\echo %s\n' "$1" "$mark" >&7
    for ((i = 0; i < 300; i++)); do
        grep -qx "$mark" "$SESS_LOG" && return 0
        sleep 0.1
    done
    echo "session did not answer: $1" >&2
    return 1
}
sess_close() {
    # \q rather than end of input: servers started meanwhile inherited the FIFO's write end
    printf '\\q\n' >&7
    exec 7>&-
    wait "$SESS_PID" || true
}
# OUT := what the session printed since the last call (not in a subshell: it moves SESS_SEEN).
sess_take() {
    local total
    total=$(wc -l <"$SESS_LOG")
    OUT=$(sed -n "$((SESS_SEEN + 1)),${total}p" "$SESS_LOG" | grep -v '^__done_' || true)
    SESS_SEEN=$total
}

q "CREATE EXTENSION rollup"
q "SELECT rollup.add_node('127.0.0.1', $WORKER_1_PORT), rollup.add_node('127.0.0.1', $WORKER_2_PORT)" >/dev/null
q "CREATE TABLE f (k int PRIMARY KEY, v text)"
q "SELECT create_distributed_table('f', 'k', 4)" >/dev/null
q "CREATE TABLE f_expected (k int PRIMARY KEY, v text)"
expect "f has shards on both workers" 2 "$(q "SELECT count(DISTINCT nodeid) FROM rollup.shards WHERE table_name = 'f'::regclass")"

# ---- a. commit decided on the coordinator, COMMIT PREPARED never sent, a worker restarts
write_a() {  # the statements of scenario a, on table $1
    echo "INSERT INTO $1 SELECT g, 'a' FROM generate_series(1, 100) g;
          UPDATE $1 SET v = 'a2' WHERE k % 10 = 0;
          DELETE FROM $1 WHERE k > 95;"
}
cluster_psql "$COORDINATOR_PORT" -q -c "SET rollup.testing_skip_commit_prepared = on" -c "BEGIN" \
    -c "$(write_a f)" -c "COMMIT"
q "$(write_a f_expected)"
p1=$(prepared_on "$WORKER_1_PORT")
p2=$(prepared_on "$WORKER_2_PORT")
check "a: both workers keep a prepared transaction after the coordinator committed ($p1, $p2)" \
    "$([ "$p1" -ge 1 ] && [ "$p2" -ge 1 ]; echo $?)"
gids=$(for port in "$WORKER_1_PORT" "$WORKER_2_PORT"; do qn "$port" "SELECT string_agg(quote_literal(gid), ',') FROM pg_prepared_xacts"; done | paste -sd,)
expect "a: each prepared transaction has its record" "$((p1 + p2))" "$(q "SELECT count(*) FROM rollup.prepared_xact WHERE gid IN ($gids)")"
expect "a: the rows are not visible while prepared" 0 "$(q "SELECT count(*) FROM f")"
cluster_node_stop worker_2 immediate
cluster_node_start worker_2
expect "a: worker_2 still holds its prepared transaction after the restart" "$p2" "$(prepared_on "$WORKER_2_PORT")"
expect "a: recovery resolves every prepared transaction" "$((p1 + p2))" "$(q "SELECT rollup.recover_prepared_transactions()")"
expect "a: every row present exactly once, as in the local twin" t "$(same_rows)"
expect "a: 95 rows" 95 "$(q "SELECT count(*) FROM f")"
expect "a: nothing left prepared on worker_1" 0 "$(prepared_on "$WORKER_1_PORT")"
expect "a: nothing left prepared on worker_2" 0 "$(prepared_on "$WORKER_2_PORT")"
expect "a: no record left in rollup.prepared_xact" 0 "$(q "SELECT count(*) FROM rollup.prepared_xact")"
expect "a: a second recovery has nothing to do" 0 "$(q "SELECT rollup.recover_prepared_transactions()")"

# ---- b. the coordinator's transaction aborts after PREPARE
out=$(cluster_psql "$COORDINATOR_PORT" -q -v ON_ERROR_STOP=0 -c "SET rollup.testing_fail_after_prepare = on" \
    -c "BEGIN" -c "INSERT INTO f SELECT g, 'b' FROM generate_series(101, 200) g" -c "COMMIT" 2>&1 || true)
check "b: COMMIT fails after PREPARE" "$(grep -q 'testing_fail_after_prepare' <<<"$out"; echo $?)"
expect "b: no row landed" 0 "$(q "SELECT count(*) FROM f WHERE k BETWEEN 101 AND 200")"
expect "b: the abort rolled back the prepared transaction on worker_1" 0 "$(prepared_on "$WORKER_1_PORT")"
expect "b: the abort rolled back the prepared transaction on worker_2" 0 "$(prepared_on "$WORKER_2_PORT")"
expect "b: no record left" 0 "$(q "SELECT count(*) FROM rollup.prepared_xact")"
expect "b: the table is as before" t "$(same_rows)"

# A prepared transaction named like ours with no record: the coordinator crashed before its commit
# (its transaction id is finished and never wrote a record). Recovery must roll it back.
sysid=$(q "SELECT system_identifier FROM pg_control_system()")
xid=$(q "SELECT txid_current() % 4294967296")
read -r shard port nodeid < <(q "SELECT shard_name, port, nodeid FROM rollup.shards
    WHERE shardid = rollup.shard_for_value('f', '1000')" | tr '|' ' ')
qn "$port" "BEGIN; INSERT INTO $shard VALUES (1000, 'orphan'); PREPARE TRANSACTION 'rollup_${sysid}_${xid}_${nodeid}_0'" >/dev/null
expect "b: the orphan is prepared on its worker" 1 "$(prepared_on "$port")"
expect "b: recovery resolves the orphan" 1 "$(q "SELECT rollup.recover_prepared_transactions()")"
expect "b: the orphan was rolled back (no row 1000)" 0 "$(q "SELECT count(*) FROM f WHERE k = 1000")"
expect "b: nothing left prepared" 0 "$(prepared_on "$port")"

# ---- c. a worker stops inside a transaction that wrote to both workers
for victim in worker_2 worker_1; do
    case $victim in worker_1) vport=$WORKER_1_PORT oport=$WORKER_2_PORT ;; *) vport=$WORKER_2_PORT oport=$WORKER_1_PORT ;; esac
    first=$([ "$victim" = worker_2 ] && echo 201 || echo 401)
    sess_open
    sess_run "BEGIN; INSERT INTO f SELECT g, 'c' FROM generate_series($first, $((first + 99))) g; UPDATE f SET v = 'c2' WHERE k <= 10;"
    sess_take
    cluster_node_stop "$victim" immediate
    sess_run "COMMIT;"
    sess_run "\\echo sqlstate :LAST_ERROR_SQLSTATE"
    sess_take
    out=$OUT
    check "c/$victim: COMMIT fails with an error naming 127.0.0.1:$vport" \
        "$(grep -q "ERROR" <<<"$out" && grep -q "127.0.0.1:$vport" <<<"$out"; echo $?)"
    echo "  the error: $(grep -m1 ERROR <<<"$out") / $(grep -m1 CONTEXT <<<"$out")"
    sess_close
    expect "c/$victim: nothing committed on the other worker" 0 \
        "$(rows_on "$oport" "k BETWEEN $first AND $((first + 99)) OR v = 'c2'")"
    expect "c/$victim: nothing left prepared on the other worker" 0 "$(prepared_on "$oport")"
    cluster_node_start "$victim"
    expect "c/$victim: after the restart, nothing prepared on $victim" 0 "$(prepared_on "$vport")"
    expect "c/$victim: the table is whole after the restart (no partial rows)" t "$(same_rows)"
    expect "c/$victim: recovery finds nothing to resolve" 0 "$(q "SELECT rollup.recover_prepared_transactions()")"
done
q "BEGIN; INSERT INTO f SELECT g, 'c3' FROM generate_series(601, 640) g; COMMIT;"
q "INSERT INTO f_expected SELECT g, 'c3' FROM generate_series(601, 640) g"
expect "c: a multi-node write commits again" t "$(same_rows)"

# ---- d. a worker down for a plain read, in one session across the stop and the restart
sess_open
sess_run "SELECT count(*) FROM f;"
sess_take
expect "d: the session reads before the stop" 135 "$OUT"
cluster_node_stop worker_2 immediate
sess_run "SELECT count(*) FROM f;"
sess_run "\\echo sqlstate :LAST_ERROR_SQLSTATE"
sess_take
out=$OUT
check "d: the read fails with an error naming 127.0.0.1:$WORKER_2_PORT" \
    "$(grep -q 'ERROR' <<<"$out" && grep -q "127.0.0.1:$WORKER_2_PORT" <<<"$out"; echo $?)"
check "d: ... with a connection-class SQLSTATE (08xxx)" "$(grep -qE '^sqlstate 08' <<<"$out"; echo $?)"
echo "  the error: $(grep -m1 ERROR <<<"$out") / $(grep -m1 CONTEXT <<<"$out") / $(grep -m1 sqlstate <<<"$out")"
sess_run "SELECT count(*) FROM f;"
sess_run "\\echo sqlstate :LAST_ERROR_SQLSTATE"
sess_take
out=$OUT
check "d: a second read while the worker is down fails the same way" \
    "$(grep -q "127.0.0.1:$WORKER_2_PORT" <<<"$out" && grep -qE '^sqlstate 08' <<<"$out"; echo $?)"
echo "  the error: $(grep -m1 ERROR <<<"$out") / $(grep -m1 sqlstate <<<"$out")"
sess_run "SELECT 'usable';"
sess_take
expect "d: the session stays usable" usable "$OUT"
cluster_node_start worker_2
sess_run "SELECT count(*) FROM f;"
sess_take
expect "d: after the restart the same session reads again" 135 "$OUT"
sess_run "BEGIN; INSERT INTO f VALUES (700, 'd'), (701, 'd'), (702, 'd'), (703, 'd'); COMMIT;"
q "INSERT INTO f_expected VALUES (700, 'd'), (701, 'd'), (702, 'd'), (703, 'd')"
sess_take
expect "d: the session's multi-node write committed" COMMIT "$(tail -n 1 <<<"$OUT")"
sess_close
expect "d: ... and writes to both workers" t "$(same_rows)"

# ---- f. recovery must judge a record with a snapshot taken after the transaction finished: a
# recovery whose snapshot predates a commit must not roll that commit's prepared transactions back.
# A REPEATABLE READ caller makes that window deterministic.
sess_open
sess_run "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM f_expected;"
cluster_psql "$COORDINATOR_PORT" -q -c "SET rollup.testing_skip_commit_prepared = on" \
    -c "INSERT INTO f SELECT g, 'f' FROM generate_series(901, 940) g"
q "INSERT INTO f_expected SELECT g, 'f' FROM generate_series(901, 940) g"
sess_run "SELECT rollup.recover_prepared_transactions(); COMMIT;"
sess_take
echo "  the older snapshot's recovery: $(grep -m1 ERROR <<<"$OUT" || echo 'no error')"
sess_close
q "SELECT rollup.recover_prepared_transactions()" >/dev/null
expect "f: a committed transaction survives a recovery with an older snapshot" t "$(same_rows)"
expect "f: nothing left prepared" 00 "$(prepared_on "$WORKER_1_PORT")$(prepared_on "$WORKER_2_PORT")"

# ---- e. the scheduler resolves leftovers on its own
cluster_psql "$COORDINATOR_PORT" -q -c "SET rollup.testing_skip_commit_prepared = on" \
    -c "INSERT INTO f SELECT g, 'e' FROM generate_series(801, 840) g"
q "INSERT INTO f_expected SELECT g, 'e' FROM generate_series(801, 840) g"
left=$(($(prepared_on "$WORKER_1_PORT") + $(prepared_on "$WORKER_2_PORT")))
check "e: prepared transactions left ($left)" "$([ "$left" -ge 2 ]; echo $?)"
q "ALTER SYSTEM SET rollup.enable_scheduler = on"
q "SELECT pg_reload_conf()" >/dev/null
resolved=1
for ((i = 0; i < 300; i++)); do
    if [ "$(prepared_on "$WORKER_1_PORT")$(prepared_on "$WORKER_2_PORT")" = 00 ]; then resolved=0; break; fi
    sleep 0.1
done
check "e: the scheduler committed them within 30 s" "$resolved"
expect "e: every row present exactly once" t "$(same_rows)"

# ---- g. recovery also runs in a database other than rollup.scheduler_database
for port in "$COORDINATOR_PORT" "$WORKER_1_PORT" "$WORKER_2_PORT"; do qn "$port" "CREATE DATABASE other" >/dev/null; done
qo() { cluster_psql "$COORDINATOR_PORT" -d other -Atq -c "$1"; }
qo "CREATE EXTENSION rollup" >/dev/null
qo "SELECT rollup.add_node('127.0.0.1', $WORKER_1_PORT), rollup.add_node('127.0.0.1', $WORKER_2_PORT)" >/dev/null
qo "CREATE TABLE g (id int, v text)" >/dev/null
qo "SELECT create_distributed_table('g', 'id', 4)" >/dev/null
cluster_psql "$COORDINATOR_PORT" -d other -q -c "SET rollup.testing_skip_commit_prepared = on" \
    -c "INSERT INTO g SELECT i, 'g' FROM generate_series(1, 40) i"
left=$(($(prepared_on "$WORKER_1_PORT") + $(prepared_on "$WORKER_2_PORT")))
check "g: prepared transactions left in database other ($left)" "$([ "$left" -ge 2 ]; echo $?)"
resolved=1
for ((i = 0; i < 700; i++)); do
    if [ "$(prepared_on "$WORKER_1_PORT")$(prepared_on "$WORKER_2_PORT")" = 00 ]; then resolved=0; break; fi
    sleep 0.1
done
check "g: the launcher's recovery committed them within 70 s" "$resolved"
expect "g: every row present once" 40 "$(qo "SELECT count(*) FROM g")"

if [ "$fails" -gt 0 ]; then
    echo "twophase_recovery: $fails failed"
    exit 1
fi
echo "twophase_recovery: all passed"
