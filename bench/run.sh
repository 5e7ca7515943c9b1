#!/usr/bin/env bash
# `make bench`: runs every benchmark script of bench/ (each starts its own private cluster with
# test/cluster.sh, measures rollup against plain PostgreSQL in the same run, and writes its report
# under bench/results/). BENCH="ingest query" picks some; extra settings are read by each script.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
status=0
for name in ${BENCH:-ingest query rollup}; do
    script="bench/$name.sh"
    if [ ! -f "$script" ]; then
        echo "bench: $script does not exist (yet)" >&2
        continue
    fi
    echo "== bench: $name"
    bash "$script" || { echo "bench: $name failed" >&2; status=1; }
done
exit $status
