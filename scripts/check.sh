#!/usr/bin/env bash
# `make check`: build, Catch2 unit tests (ctest), then pg_regress + isolation specs on a coordinator
# and two workers (test/run_tests.sh). The last line counts every test: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-pg_config}
make -f build.mk PG_CONFIG="$PG_CONFIG" all -j2 || { echo "0 passed, 1 failed"; exit 1; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j2 || { echo "0 passed, 1 failed"; exit 1; }
(cd build && ctest --output-on-failure) | tee build/ctest.log
unit_rc=${PIPESTATUS[0]}
total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' build/ctest.log | tail -1)
failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of.*/\1/p' build/ctest.log | tail -1)
total=${total:-0}; failed=${failed:-0}
[ "$unit_rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
ROLLUP_UNIT_PASSED=$((total - failed)) ROLLUP_UNIT_FAILED=$failed bash test/run_tests.sh
rc=$?
[ "$unit_rc" -ne 0 ] && rc=1
exit $rc
