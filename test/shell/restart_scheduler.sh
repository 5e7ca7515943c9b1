#!/usr/bin/env bash
# Scheduler restart test (needs a server restart, which pg_regress cannot do):
#   1. a slow job is running and a 1-second job ticks;
#   2. the coordinator crashes (pg_ctl stop -m immediate) and starts again;
#   3. the run cut short is marked failed with its reason, and the scheduler resumes on its own.
# Usage: bash test/restart_scheduler.sh   (prints PASS/FAIL lines; exit status 1 on any failure)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=test/cluster.sh
source test/cluster.sh

cluster_start 0
q() { cluster_psql "${CLUSTER_PORT[coordinator]}" -Atq -c "$1"; }
# wait_for <seconds> <sql returning t/f>
wait_for() {
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        [ "$(q "$2" 2>/dev/null || true)" = t ] && return 0
        sleep 0.1
    done
    return 1
}
fails=0
check() {  # check <name> <condition already evaluated: 0 ok>
    if [ "$2" = 0 ]; then echo "PASS: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi
}

q "CREATE EXTENSION IF NOT EXISTS rollup"
q "CREATE TABLE ticks (at timestamptz DEFAULT clock_timestamp())"
q "SELECT rollup.schedule('long', '1 second', 'SELECT pg_sleep(600)')" >/dev/null
q "SELECT rollup.schedule('tick', '1 second', 'INSERT INTO ticks DEFAULT VALUES')" >/dev/null

wait_for 30 "SELECT EXISTS (SELECT 1 FROM rollup.job_runs WHERE job_name = 'long' AND status = 'running' AND pid IS NOT NULL)"
check "a long run is going before the crash" $?
cut=$(q "SELECT runid FROM rollup.job_runs WHERE job_name = 'long' AND status = 'running'")

cluster_node_stop coordinator immediate
cluster_node_start coordinator

wait_for 30 "SELECT status = 'failed' AND message LIKE 'the run was cut short%' FROM rollup.job_runs WHERE runid = $cut"
check "the run cut short by the crash is marked failed" $?
before=$(q "SELECT coalesce(max(runid), 0) FROM rollup.job_runs")
wait_for 30 "SELECT count(*) >= 2 FROM rollup.job_runs WHERE job_name = 'tick' AND status = 'succeeded' AND runid > $before"
check "the scheduler resumes after the restart" $?
wait_for 30 "SELECT EXISTS (SELECT 1 FROM rollup.job_runs WHERE job_name = 'long' AND status = 'running' AND runid > $cut)"
check "the slow job runs again" $?
q "SELECT count(*) = 0 FROM rollup.job_runs WHERE status = 'running' AND job_name = 'long' AND runid <= $cut" | grep -qx t
check "no stale 'running' record" $?

# A clean shutdown (pg_ctl stop -m fast) terminates running jobs: also recorded as failed.
cut=$(q "SELECT max(runid) FROM rollup.job_runs WHERE job_name = 'long' AND status = 'running'")
cluster_node_stop coordinator fast
cluster_node_start coordinator
wait_for 30 "SELECT status = 'failed' FROM rollup.job_runs WHERE runid = $cut"
check "a run interrupted by a clean shutdown is marked failed" $?

q "SELECT rollup.unschedule('long'), rollup.unschedule('tick')" >/dev/null
if [ "$fails" -gt 0 ]; then
    echo "restart_scheduler: $fails failed"
    exit 1
fi
echo "restart_scheduler: all passed"
