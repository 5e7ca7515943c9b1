#!/usr/bin/env bash
# `make bench`: every benchmark named in the issues, side by side in one run, on one machine:
# each script (ingest, query, rollup, realtime) starts its own private cluster with test/cluster.sh
# and measures rollup against plain PostgreSQL tables of the same server in the same run (serial,
# and with 2 parallel workers where the query can use them), once single node (32 shards on the
# coordinator) and once with a coordinator and 2 workers. Then bench/report.py assembles
# bench/results/<date>.md (tables), .json (every figure) and .svg (a chart of the ratios).
#   BENCH_ROWS   rows per benchmark (default 1000000; 10000000 for the published report); the
#                rollup benchmark runs over a tenth of them, new on a table of BENCH_ROWS
#   BENCH        the scripts to run (default "ingest query rollup realtime")
#   SETUPS       worker counts (default "0 2")
# Each script takes medians over its repeats after a warm-up (query, realtime: REPEAT, default 5)
# and reports the peak memory growth of the servers where it measures it (query).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${BENCH_ROWS:-1000000}
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
run_dir=bench/results/run-$stamp
mkdir -p "$run_dir"
scripts=(${BENCH:-ingest query rollup realtime})
setups=(${SETUPS:-0 2})
total=$((${#scripts[@]} * ${#setups[@]}))
step=0
status=0
started=$SECONDS
for name in "${scripts[@]}"; do
    script="bench/$name.sh"
    [ -f "$script" ] || { echo "bench: $script does not exist" >&2; status=1; continue; }
    for workers in "${setups[@]}"; do
        step=$((step + 1))
        echo "== bench [$step/$total, $((SECONDS - started)) s so far]: $name, $([ "$workers" = 0 ] && echo "single node" || echo "coordinator + $workers workers"), $ROWS rows"
        # The rollup benchmark in the issue's form: runs over a tenth of the rows, new on a table of
        # all of them (1M new rows on a 10M-row table for the published report).
        rows=$ROWS base=""
        if [ "$name" = rollup ]; then rows=$((ROWS >= 10 ? ROWS / 10 : 1)) base=$ROWS; fi
        if ! WORKERS=$workers ROWS=$rows BASE_ROWS=$base REPEAT=${REPEAT:-5} OUT="$run_dir/$name-${workers}w.txt" bash "$script" \
            >"$run_dir/$name-${workers}w.log" 2>&1; then
            echo "bench: $name with $workers workers failed (log: $run_dir/$name-${workers}w.log)" >&2
            tail -5 "$run_dir/$name-${workers}w.log" >&2
            status=1
        fi
    done
done
BENCH_META_DATE=$stamp BENCH_META_ROWS=$ROWS BENCH_META_CORES=$(nproc) \
    python3 bench/report.py "$run_dir" "bench/results/$stamp"
echo "report: bench/results/$stamp.md (.json, .svg); per-script reports in $run_dir"
exit $status
