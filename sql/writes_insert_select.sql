-- INSERT ... SELECT: between co-located distributed tables, grouped or filtered by the
-- distribution column, it runs per shard pair (the tutorial's rollup_http_request()); local ->
-- distributed goes through the coordinator. Checked against local twins.
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SET rollup.next_shard_id TO 305000;
\i sql/helpers/shard_check.sql


-- the tutorial's tables and rollup function, verbatim
CREATE TABLE http_request (
  site_id INT, ingest_time TIMESTAMPTZ DEFAULT now(), url TEXT, request_country TEXT,
  ip_address TEXT, status_code INT, response_time_msec INT);
CREATE TABLE http_request_1min (
  site_id INT, ingest_time TIMESTAMPTZ, error_count INT, success_count INT, request_count INT,
  average_response_time_msec INT,
  CHECK (request_count = error_count + success_count),
  CHECK (ingest_time = date_trunc('minute', ingest_time)));
SELECT create_distributed_table('http_request', 'site_id', 8);
SELECT create_distributed_table('http_request_1min', 'site_id', 8);
CREATE INDEX http_request_1min_idx ON http_request_1min (site_id, ingest_time);
CREATE TABLE latest_rollup (minute timestamptz PRIMARY KEY,
  CHECK (minute = date_trunc('minute', minute)));
INSERT INTO latest_rollup VALUES ('10-10-1901');
CREATE FUNCTION rollup_http_request() RETURNS void AS $$
DECLARE
  curr_rollup_time TIMESTAMPTZ := date_trunc('minute', now());
  last_rollup_time TIMESTAMPTZ := minute from latest_rollup;
BEGIN
  INSERT INTO http_request_1min (
    site_id, ingest_time, request_count,
    success_count, error_count, average_response_time_msec
  ) SELECT
    site_id,
    date_trunc('minute', ingest_time),
    COUNT(1) as request_count,
    SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END) as success_count,
    SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END) as error_count,
    SUM(response_time_msec) / COUNT(1) AS average_response_time_msec
  FROM http_request
  -- roll up only data new since last_rollup_time
  WHERE date_trunc('minute', ingest_time) <@
          tstzrange(last_rollup_time, curr_rollup_time, '(]')
  GROUP BY 1, 2;

  -- update the value in latest_rollup so that next time we run the
  -- rollup it will operate on data newer than curr_rollup_time
  UPDATE latest_rollup SET minute = curr_rollup_time;
END;
$$ LANGUAGE plpgsql;

-- local -> distributed (through the coordinator), deterministic data
CREATE TABLE http_request_twin (LIKE http_request);
INSERT INTO http_request_twin (site_id, ingest_time, url, request_country, ip_address, status_code, response_time_msec)
SELECT g % 16, '2024-03-03 10:00+00'::timestamptz + (g % 180) * interval '1 minute', 'http://example.com/' || g,
       (ARRAY['China','India','USA','Indonesia'])[1 + g % 4], '10.0.0.' || (g % 250),
       (ARRAY[200, 404])[1 + g % 2], 5 + g % 150
  FROM generate_series(1, 4000) g;
INSERT INTO http_request SELECT * FROM http_request_twin;
SELECT * FROM pg_temp.diff('http_request', 'http_request_twin', 'site_id, ingest_time, url, status_code', 'site_id');

-- the rollup runs per shard pair; its result equals the same query on the local twin
SELECT rollup_http_request();
SELECT minute > '2024-01-01' FROM latest_rollup;
CREATE TABLE http_request_1min_twin (LIKE http_request_1min);
INSERT INTO http_request_1min_twin (site_id, ingest_time, request_count, success_count, error_count, average_response_time_msec)
SELECT site_id, date_trunc('minute', ingest_time), COUNT(1),
       SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END),
       SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END),
       SUM(response_time_msec) / COUNT(1)
  FROM http_request_twin GROUP BY 1, 2;
SELECT * FROM pg_temp.diff('http_request_1min', 'http_request_1min_twin',
  'site_id, ingest_time, request_count, success_count, error_count, average_response_time_msec', 'site_id');
SELECT count(*) FROM pg_temp.shard_rows('http_request_1min', 'site_id', 'site_id');
-- nothing new since the last run: nothing added
SELECT rollup_http_request();
SELECT count(*) FROM pg_temp.shard_rows('http_request_1min', 'site_id', 'site_id');

-- co-located pushdown with a filter, and RETURNING from the shards
CREATE TABLE http_copy (LIKE http_request);
SELECT create_distributed_table('http_copy', 'site_id', 8);
INSERT INTO http_copy SELECT * FROM http_request WHERE status_code = 404 AND site_id < 3;
INSERT INTO http_copy SELECT * FROM http_request WHERE site_id = 5 AND response_time_msec = 6
  RETURNING site_id, url;
CREATE TABLE http_copy_twin (LIKE http_request);
INSERT INTO http_copy_twin SELECT * FROM http_request_twin WHERE status_code = 404 AND site_id < 3;
INSERT INTO http_copy_twin SELECT * FROM http_request_twin WHERE site_id = 5 AND response_time_msec = 6;
SELECT * FROM pg_temp.diff('http_copy', 'http_copy_twin', 'site_id, ingest_time, url, status_code', 'site_id');

DROP FUNCTION rollup_http_request();
DROP TABLE http_request, http_request_1min, latest_rollup, http_request_twin, http_request_1min_twin,
  http_copy, http_copy_twin;
RESET rollup.next_shard_id;
