-- Beyond the tutorial: the same rollup, native (rollup.create_rollup). Exact and incremental: the
-- minute in progress is held back instead of lost, late and concurrent writers are counted, runs
-- never double count. The tutorial's rollup_http_request() exists already, so this one has its own
-- name and target.
CREATE TABLE http_request_1min_native (LIKE http_request_1min);
SELECT create_distributed_table('http_request_1min_native', 'site_id', colocate_with => 'http_request');
SELECT rollup.create_rollup('rollup_http_request_native', 'http_request_1min_native', $$
  SELECT site_id, date_trunc('minute', ingest_time) AS ingest_time,
         COUNT(1) AS request_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END) AS success_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END) AS error_count,
         SUM(response_time_msec) / COUNT(1) AS average_response_time_msec
    FROM http_request GROUP BY 1, 2 $$);
SELECT rollup_http_request_native() AS rows_written;
-- A late writer: a row for a minute already rolled up, recorded at its commit, counted next run.
INSERT INTO http_request (site_id, ingest_time, status_code, response_time_msec)
SELECT 1, frontier - interval '30 seconds', 200, 100 FROM rollup.rollups WHERE name = 'rollup_http_request_native';
SELECT rollup_http_request_native() AS rows_written;
-- Every complete minute equals a from-scratch GROUP BY of the raw rows.
WITH f AS (SELECT frontier FROM rollup.rollups WHERE name = 'rollup_http_request_native'),
truth AS (
  SELECT site_id, date_trunc('minute', ingest_time) AS ingest_time, COUNT(1)::int AS request_count
    FROM http_request WHERE ingest_time < (SELECT frontier FROM f) GROUP BY 1, 2)
SELECT count(*) AS differences
  FROM (SELECT * FROM truth
        EXCEPT ALL SELECT site_id, ingest_time, request_count FROM http_request_1min_native) d;
SELECT name, frontier, lag, pending_ranges, last_rows, total_rows FROM rollup.rollups;
