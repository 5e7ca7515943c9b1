#!/usr/bin/env bash
# The integration suite, run by `make check` after the build and the unit tests:
#   1. checks that every sql/*.sql is in test/schedule and every test/isolation/specs/*.spec is in
#      test/isolation_schedule (and that every listed name has its file);
#   2. builds the private PostgreSQL tree and starts a coordinator + 2 workers (test/cluster.sh);
#   3. creates database "regression" on every node and runs test/cluster_setup.sql on the coordinator
#      (CREATE EXTENSION rollup, add the workers);
#   4. pg_regress with test/schedule, then pg_isolation_regress with test/isolation_schedule, both
#      --use-existing against the coordinator's "regression" database;
#   5. stops the servers and prints "N passed, M failed" as its last line; exits 1 on any failure.
# Environment:
#   TESTS="a b"              run only these pg_regress tests (no schedule check, no isolation specs
#                            unless ISOLATION_TESTS is set too)
#   ISOLATION_TESTS="x y"    run only these isolation specs (no pg_regress tests unless TESTS is set)
#   ROLLUP_WORKERS=n         workers to start (default 2)
#   ROLLUP_RESULTS_DIR=dir   results there (regress/ and isolation/ below it) instead of the defaults
#                            ./results + ./regression.diffs and test/isolation/output_iso/
#   ROLLUP_UNIT_PASSED, ROLLUP_UNIT_FAILED   unit test counts to add to the summary
#   KEEP=1, ROLLUP_EXTRA_CONF, ROLLUP_COORDINATOR_CONF, ROLLUP_PG_TREE, PG_CONFIG: see test/cluster.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
# shellcheck source=test/cluster.sh
source test/cluster.sh

WORKERS=${ROLLUP_WORKERS:-2}
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
PG_REGRESS=$PKGLIBDIR/pgxs/src/test/regress/pg_regress
PG_ISOLATION_REGRESS=$PKGLIBDIR/pgxs/src/test/isolation/pg_isolation_regress
if [ -n "${ROLLUP_RESULTS_DIR:-}" ]; then
    mkdir -p "$ROLLUP_RESULTS_DIR"
    ROLLUP_RESULTS_DIR=$(cd "$ROLLUP_RESULTS_DIR" && pwd)
    REGRESS_OUT=$ROLLUP_RESULTS_DIR/regress
    ISOLATION_OUT=$ROLLUP_RESULTS_DIR/isolation
else
    REGRESS_OUT=$REPO
    ISOLATION_OUT=$REPO/test/isolation/output_iso
fi

passed=0
failed=0
problems=()   # failures that are not a test's own (setup, harness), repeated before the summary

# The names on the "test:" lines of a schedule, one per line.
schedule_names() {
    sed -n -E 's/^[[:space:]]*test:[[:space:]]*//p' "$1" | tr -s ' \t' '\n' | sed '/^$/d'
}

# check_schedule <schedule> <dir> <ext> <expected dir>: every <dir>/*.<ext> listed once, every listed
# name has its file and its expected output.
check_schedule() {
    local schedule=$1 dir=$2 ext=$3 expected=$4 listed f name bad=0
    if [ ! -f "$schedule" ]; then
        echo "schedule check: $schedule is missing" >&2
        return 1
    fi
    listed=$(schedule_names "$schedule")
    shopt -s nullglob
    for f in "$dir"/*."$ext"; do
        name=$(basename "$f" ".$ext")
        if ! grep -qxF "$name" <<<"$listed"; then
            echo "schedule check: $f is not listed in $schedule (add a line \"test: $name\")" >&2
            bad=1
        fi
    done
    shopt -u nullglob
    for name in $listed; do
        if [ ! -f "$dir/$name.$ext" ]; then
            echo "schedule check: $schedule lists \"$name\" but $dir/$name.$ext does not exist" >&2
            bad=1
        elif [ ! -f "$expected/$name.out" ]; then
            echo "schedule check: $expected/$name.out is missing (run TESTS=$name or" \
                "ISOLATION_TESTS=$name, review the result file, copy it there)" >&2
            bad=1
        fi
    done
    for name in $(sort <<<"$listed" | uniq -d); do
        echo "schedule check: \"$name\" is listed more than once in $schedule" >&2
        bad=1
    done
    return $bad
}

# count_results <pg_regress stdout log> <pg_regress exit status> <label>
count_results() {
    local log=$1 status=$2 label=$3 p f ign
    p=$(grep -cE '\.\.\. ok( |$)' "$log" || true)
    f=$(grep -cE '\.\.\. FAILED' "$log" || true)
    ign=$(grep -cE '\.\.\. failed \(ignored\)' "$log" || true)
    if [ "$status" != 0 ] && [ "$f" = 0 ]; then
        problems+=("$label exited with status $status without a failed test (see its output above)")
        f=1
    fi
    [ "$ign" = 0 ] || echo "$label: $ign failed test(s) ignored (schedule \"ignore:\" lines)"
    # Name each failed test again before the summary: CI shows only the tail of the output.
    local name
    while read -r name; do
        [ -n "$name" ] && problems+=("$label test $name")
    done < <(sed -nE 's/^[^A-Za-z_]*(test +)?([A-Za-z0-9_]+) +\.\.\. FAILED.*/\2/p' "$log")
    passed=$((passed + p))
    failed=$((failed + f))
}

# run_suite <label> <binary> <outputdir> <pg_regress arguments...>
run_suite() {
    local label=$1 bin=$2 out=$3 log status
    shift 3
    mkdir -p "$out"
    log=$CLUSTER_BASE/$label.stdout
    CLUSTER_REPORT_FILES+=("$out/regression.diffs")
    # In the background, followed by tail: a foreground child would delay our TERM/INT trap (and so
    # the servers' shutdown) until it ends; this way the trap runs at once and ends pg_regress too.
    "$bin" --use-existing --bindir="$CLUSTER_BINDIR" --host=127.0.0.1 --port="$COORDINATOR_PORT" \
        --user=postgres --dbname=regression --outputdir="$out" "$@" >"$log" 2>&1 </dev/null &
    local pid=$!
    CLUSTER_CHILD_PIDS=("$pid")
    tail -s 0.2 -n +1 -f --pid="$pid" "$log" &
    local tail_pid=$!
    status=0
    wait "$pid" || status=$?
    wait "$tail_pid" || true
    CLUSTER_CHILD_PIDS=()
    count_results "$log" "$status" "$label"
}

# 1. schedules (only for full runs: while writing a new test, TESTS=<name> runs it unlisted)
run_regress=1
run_isolation=1
if [ -n "${TESTS:-}" ] || [ -n "${ISOLATION_TESTS:-}" ]; then
    [ -n "${TESTS:-}" ] || run_regress=0
    [ -n "${ISOLATION_TESTS:-}" ] || run_isolation=0
else
    schedules_ok=1
    check_schedule test/schedule sql sql expected || schedules_ok=0
    check_schedule test/isolation_schedule test/isolation/specs spec test/isolation/expected ||
        schedules_ok=0
    if [ "$schedules_ok" = 0 ]; then
        echo "schedule check failed: every test must be listed in its schedule exactly once and have" \
            "an expected output" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
fi

# 2. cluster
# The tests run in database "regression": the scheduler works there too.
user_coordinator_conf=${ROLLUP_COORDINATOR_CONF:-}
export ROLLUP_COORDINATOR_CONF="${ROLLUP_COORDINATOR_CONF:+$ROLLUP_COORDINATOR_CONF
}rollup.scheduler_database = 'regression'"
if ! cluster_install || ! cluster_start "$WORKERS"; then
    cluster_report_failure
    cluster_stop
    echo "FAILED: could not install or start the test cluster (messages above)"
    echo "0 passed, 1 failed"
    exit 1
fi

# 3. databases and setup. pg_regress --use-existing neither drops nor creates the database, so we
# create it here with the settings pg_regress itself would give it. Workers get the same database:
# the coordinator reaches its shards in the database of the same name.
for node in "${CLUSTER_NODES[@]}"; do
    cluster_psql "${CLUSTER_PORT[$node]}" -q \
        -c 'CREATE DATABASE regression TEMPLATE template0' \
        -c "ALTER DATABASE regression SET lc_messages TO 'C'" \
        -c "ALTER DATABASE regression SET lc_monetary TO 'C'" \
        -c "ALTER DATABASE regression SET lc_numeric TO 'C'" \
        -c "ALTER DATABASE regression SET lc_time TO 'C'" \
        -c "ALTER DATABASE regression SET bytea_output TO 'hex'" \
        -c "ALTER DATABASE regression SET timezone_abbreviations TO 'Default'"
done
setup_log=$CLUSTER_BASE/cluster_setup.out
if ! cluster_psql "$COORDINATOR_PORT" -d regression -v workers="$WORKERS" \
    -f test/cluster_setup.sql >"$setup_log" 2>&1; then
    cat "$setup_log"
    problems+=("test/cluster_setup.sql failed on the coordinator (CREATE EXTENSION rollup / add_node): output above")
    failed=$((failed + 1))
    echo "WARNING: setup failed; running the tests anyway, expect them to fail" >&2
fi

# 4. tests
if [ "$run_regress" = 1 ]; then
    if [ -n "${TESTS:-}" ]; then
        # shellcheck disable=SC2086
        run_suite pg_regress "$PG_REGRESS" "$REGRESS_OUT" --inputdir=. $TESTS
    elif [ -n "$(schedule_names test/schedule)" ]; then
        run_suite pg_regress "$PG_REGRESS" "$REGRESS_OUT" --inputdir=. --schedule=test/schedule
    else
        echo "pg_regress: test/schedule lists no test"
    fi
fi
if [ "$run_isolation" = 1 ]; then
    if [ -n "${ISOLATION_TESTS:-}" ]; then
        # shellcheck disable=SC2086
        run_suite isolation "$PG_ISOLATION_REGRESS" "$ISOLATION_OUT" --inputdir=test/isolation \
            $ISOLATION_TESTS
    elif [ -n "$(schedule_names test/isolation_schedule)" ]; then
        run_suite isolation "$PG_ISOLATION_REGRESS" "$ISOLATION_OUT" --inputdir=test/isolation \
            --schedule=test/isolation_schedule
    else
        echo "isolation: test/isolation_schedule lists no spec"
    fi
fi

# 5. report, stop, summary (last line)
passed=$((passed + ${ROLLUP_UNIT_PASSED:-0}))
failed=$((failed + ${ROLLUP_UNIT_FAILED:-0}))
[ "${ROLLUP_UNIT_FAILED:-0}" = 0 ] || problems+=("${ROLLUP_UNIT_FAILED} Catch2 test(s): see build/ctest.log")
late_report=$(mktemp)
if [ "$failed" != 0 ]; then
    cluster_report_failure
    # the diffs again at the very end, after the shell tests: CI keeps only the tail of the output
    for f in "${CLUSTER_REPORT_FILES[@]}"; do
        [ -s "$f" ] && { echo "======== $f (first 120 lines)"; head -n 120 "$f"; } >>"$late_report"
    done
    CLUSTER_REPORT_FILES=()
fi
cluster_stop

# 6. shell-driven tests (restarts, crashes, stopped workers): each starts its own cluster.
if [ "$run_regress" = 1 ] && [ -z "${TESTS:-}" ]; then
    for t in test/shell/*.sh; do
        [ -f "$t" ] || continue
        echo "== shell test $t"
        if ROLLUP_COORDINATOR_CONF=$user_coordinator_conf bash "$t"; then
            echo "shell test $t ... ok"
            passed=$((passed + 1))
        else
            echo "shell test $t ... FAILED"
            problems+=("shell test $t")
            failed=$((failed + 1))
        fi
    done
fi
cat "$late_report"; rm -f "$late_report"
for p in "${problems[@]}"; do echo "FAILED: $p"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
