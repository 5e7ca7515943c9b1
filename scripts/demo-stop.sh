#!/usr/bin/env bash
# `make demo-stop`: stops what a `make demo` that was killed (kill -9, a closed terminal) left
# running: its ingest generator and its private cluster (demo/.running names the cluster's
# directory). A demo that ends normally, or by Ctrl-C, stops everything itself.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -f demo/.running ]; then
    echo "demo-stop: no demo is recorded as running (demo/.running is absent)"
    exit 0
fi
dir=$(cat demo/.running)
pkill -f "pgbench .*scripts/live/generator.sql" 2>/dev/null && echo "demo-stop: stopped the generator"
if [ -f "$dir/state.sh" ]; then
    bash test/cluster.sh stop "$dir" && echo "demo-stop: stopped the cluster in $dir"
else
    echo "demo-stop: $dir is gone already"
fi
rm -f demo/.running
