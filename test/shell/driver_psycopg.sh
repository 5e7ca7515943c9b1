#!/usr/bin/env bash
# A real client driver (psycopg 3, Debian's python3-psycopg) against a coordinator with 2 workers:
# extended-protocol parameters, prepared statements, pipelined executemany, COPY, transactions and
# savepoints, server-side cursors, binary results; each compared with a local twin table
# (test/drivers/psycopg_client.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=test/cluster.sh
source test/cluster.sh
if ! /usr/bin/python3 -c "import psycopg" 2>/dev/null; then
    echo "FAIL: python3-psycopg is not installed (scripts/install-deps.sh installs it)"
    exit 1
fi
cluster_install
cluster_start 2
port=${CLUSTER_PORT[coordinator]}
cluster_psql "$port" -Atq -c "CREATE EXTENSION IF NOT EXISTS rollup"
for n in worker_1 worker_2; do
    cluster_psql "$port" -Atq -c "SELECT rollup.add_node('127.0.0.1', ${CLUSTER_PORT[$n]})" >/dev/null
done
/usr/bin/python3 test/drivers/psycopg_client.py "host=127.0.0.1 port=$port dbname=postgres user=postgres"
