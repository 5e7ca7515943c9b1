-- Run by test/run_tests.sh once per run, on the coordinator's "regression" database, before any
-- pg_regress test or isolation spec: every test may assume the extension exists and the workers are
-- members (psql variable :workers = how many were started, 2 by default). A test that changes this
-- (drops the extension, removes a node) must restore it before it ends.
CREATE EXTENSION IF NOT EXISTS rollup;
SELECT rollup.add_node('127.0.0.1', current_setting('regress.worker_' || i || '_port')::int)
  FROM generate_series(1, :workers) AS i;
