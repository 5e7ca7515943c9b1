-- Real-time views and rollups of rollups (issue 12). Every check of a view compares it with a
-- from-scratch GROUP BY of the raw rows (view_diff, hour_diff), so "0" cannot record a wrong answer.
SET rollup.next_shard_id = 499000;
CREATE SCHEMA rtv;
SET search_path = rtv, public;
CREATE TABLE http_request (
  site_id INT, ingest_time TIMESTAMPTZ DEFAULT now(), url TEXT, request_country TEXT,
  ip_address TEXT, status_code INT, response_time_msec INT);
CREATE TABLE http_request_1min (
  site_id INT, ingest_time TIMESTAMPTZ, error_count INT, success_count INT, request_count INT,
  average_response_time_msec INT, response_time_sum BIGINT,
  CHECK (request_count = error_count + success_count),
  CHECK (ingest_time = date_trunc('minute', ingest_time)));
CREATE INDEX http_request_1min_idx ON http_request_1min (site_id, ingest_time);
SELECT create_distributed_table('http_request', 'site_id', 4);
SELECT create_distributed_table('http_request_1min', 'site_id', 4);
INSERT INTO http_request (site_id, ingest_time, status_code, response_time_msec)
SELECT g % 7, timestamptz '2024-03-10 12:00:00+00' + g * interval '1.7 seconds', (ARRAY[200,404,500,201])[g % 4 + 1], g % 500
  FROM generate_series(1, 6000) g;
SELECT rollup.create_rollup('rollup_http_request', 'http_request_1min', $$
  SELECT site_id, date_trunc('minute', ingest_time) AS ingest_time,
         COUNT(1) AS request_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END) AS success_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END) AS error_count,
         SUM(response_time_msec) / COUNT(1) AS average_response_time_msec,
         SUM(response_time_msec) AS response_time_sum
    FROM http_request GROUP BY 1, 2 $$);

-- The SQL surface and its errors.
SELECT rollup.create_realtime_view('rollup_http_request', 'http_request_live');
SELECT obj_description('rtv.http_request_live'::regclass) LIKE 'real-time view of rollup rollup_http_request%' AS commented;
SELECT rollup.create_realtime_view('no_such_rollup', 'x');
\set VERBOSITY terse
SELECT rollup.create_realtime_view('rollup_http_request', 'http_request_live');
\set VERBOSITY default
SELECT rollup.create_realtime_view('rollup_http_request', 'a.b.c.d');
SELECT rollup.create_realtime_view('rollup_http_request', 'no_such_schema.v');
-- A name that is not an identifier is quoted, never run.
SELECT rollup.create_realtime_view('rollup_http_request', '"v; DROP TABLE rtv.http_request; --"');
SELECT count(*) AS raw_rows_still_there FROM http_request;
DROP VIEW "v; DROP TABLE rtv.http_request; --";
CREATE ROLE rtv_other LOGIN;
GRANT USAGE ON SCHEMA rtv TO rtv_other;
GRANT CREATE ON SCHEMA rtv TO rtv_other;
SET ROLE rtv_other;
SELECT rollup.create_realtime_view('rollup_http_request', 'theirs');
RESET ROLE;
SELECT name, level, source_rollup, realtime_views FROM rollup.rollups;
-- The view depends on the rollup: dropping the rollup first is refused, DROP VIEW then works.
SELECT rollup.drop_rollup('rollup_http_request');
\d http_request_live

-- The view minus a from-scratch GROUP BY of all raw rows and the reverse (0: identical).
-- Cells below `since` whose raw rows were all deleted keep their rolled-up rows by design.
CREATE FUNCTION view_diff(since timestamptz DEFAULT '-infinity') RETURNS bigint LANGUAGE sql AS $$
  WITH truth AS (
    SELECT site_id, date_trunc('minute', ingest_time) AS ingest_time,
           SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END)::int AS error_count,
           SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END)::int AS success_count,
           COUNT(1)::int AS request_count, (SUM(response_time_msec) / COUNT(1))::int AS average_response_time_msec,
           SUM(response_time_msec) AS response_time_sum
      FROM rtv.http_request WHERE ingest_time >= since GROUP BY 1, 2),
  got AS (SELECT * FROM rtv.http_request_live WHERE ingest_time >= since)
  SELECT (SELECT count(*) FROM (SELECT * FROM truth EXCEPT ALL SELECT * FROM got) a) +
         (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM truth) b) $$;

-- Before any run: everything from the raw rows.
SELECT view_diff() AS before_runs, (SELECT count(*) FROM http_request_live) AS cells;
SELECT rollup_http_request() AS materialized;
SELECT view_diff() AS after_run, (SELECT count(*) FROM http_request_1min) = (SELECT count(*) FROM http_request_live) AS all_materialized;
-- A tail of new rows (the bucket in progress), a backfill below the frontier, an update and a
-- delete below it: exact at once, and after the next run.
INSERT INTO http_request (site_id, status_code, response_time_msec) SELECT g % 7, 200, g FROM generate_series(1, 50) g;
INSERT INTO http_request (site_id, ingest_time, status_code, response_time_msec)
  VALUES (3, '2024-03-10 12:30:10+00', 500, 9999), (5, '2024-03-10 11:00:00+00', 200, 1);
UPDATE http_request SET response_time_msec = response_time_msec + 1 WHERE site_id = 2 AND ingest_time < '2024-03-10 12:20:00+00';
DELETE FROM http_request WHERE site_id = 6 AND ingest_time >= '2024-03-10 13:00:00+00' AND ingest_time < '2024-03-10 13:10:00+00'
   AND response_time_msec % 3 = 0;
SELECT pending_ranges > 0 AS pending, view_diff() AS with_pending FROM rollup.rollups;
SELECT rollup_http_request() > 0 AS ran;
SELECT pending_ranges, view_diff() AS after_second_run FROM rollup.rollups;
-- A cell whose raw rows are all deleted keeps its rolled-up row in the target, and so in the view,
-- before and after the run (that is the expiry the tutorial does).
DELETE FROM http_request WHERE ingest_time < '2024-03-10 12:10:00+00';
SELECT count(*) AS kept_before_run FROM http_request_live WHERE ingest_time < '2024-03-10 12:10:00+00';
SELECT rollup_http_request() >= 0 AS ran;
SELECT count(*) AS kept_after_run FROM http_request_live WHERE ingest_time < '2024-03-10 12:10:00+00';
SELECT view_diff('2024-03-10 12:10:00+00') AS differences_above;

-- Plain SQL over the view: the tutorial's dashboard query, joins, ORDER BY / LIMIT, aggregates.
SELECT count(*) AS sites, sum(request_count) AS requests FROM (
SELECT site_id, ingest_time as minute, request_count, success_count, error_count, average_response_time_msec
  FROM http_request_live
 WHERE ingest_time > date_trunc('minute', now()) - '5 minutes'::interval
 ORDER BY site_id LIMIT 3) d;
SELECT site_id, sum(request_count) AS requests, sum(error_count) AS errors
  FROM http_request_live GROUP BY site_id ORDER BY site_id;
CREATE TABLE site_names (site_id int PRIMARY KEY, name text);
INSERT INTO site_names SELECT g, 'site ' || g FROM generate_series(0, 6) g;
SELECT n.name, count(*) AS minutes FROM http_request_live l JOIN site_names n USING (site_id)
 WHERE l.ingest_time < '2024-03-10 12:40:00+00' GROUP BY n.name ORDER BY n.name LIMIT 3;

-- Filters reach both halves: site_id = 7 reads one shard in every arm, and the raw tail is bounded
-- by the frontier (the shard statement compares the time column with it).
CREATE FUNCTION explain_lines(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP RETURN NEXT l; END LOOP;
END $$;
SELECT count(*) FILTER (WHERE l ~ 'Task Count: 1$') AS one_shard_scans,
       count(*) FILTER (WHERE l ~ 'Task Count: ([02-9]|1\d)') AS other_scans,
       bool_or(l ~ 'Shard Query: .*FROM rtv\.http_request_\d+ WHERE .*ingest_time >= rollup\.realtime_frontier\(') AS tail_bounded
  FROM explain_lines($$SELECT * FROM rtv.http_request_live WHERE site_id = 7
                       AND ingest_time > date_trunc('minute', now()) - '5 minutes'::interval$$) l;
SELECT view_diff('2024-03-10 12:10:00+00') AS still_exact;

-- Rollups of rollups: an hourly level over the per-minute one keeps sums and counts.
CREATE TABLE http_request_1hour (site_id int, ingest_time timestamptz, request_count bigint,
                                 success_count bigint, error_count bigint, response_time_sum bigint);
SELECT create_distributed_table('http_request_1hour', 'site_id', 4);
SELECT rollup.create_rollup('rollup_1hour', 'http_request_1hour', $$
  SELECT site_id, date_trunc('hour', ingest_time) AS ingest_time, sum(request_count) AS request_count,
         sum(success_count) AS success_count, sum(error_count) AS error_count,
         sum(response_time_sum) AS response_time_sum
    FROM http_request_1min GROUP BY 1, 2 $$);
-- Averaging averages is allowed, with a warning that says what to keep instead.
CREATE TABLE avg_1hour (site_id int, ingest_time timestamptz, average_response_time_msec numeric);
SELECT create_distributed_table('avg_1hour', 'site_id', 4);
SELECT rollup.create_rollup('avg_of_avg', 'avg_1hour', $$
  SELECT site_id, date_trunc('hour', ingest_time) AS ingest_time, avg(average_response_time_msec) AS average_response_time_msec
    FROM http_request_1min GROUP BY 1, 2 $$);
SELECT rollup.drop_rollup('avg_of_avg');
-- date_trunc('hour') only where hours are whole hours from UTC, 'day' only in UTC, 'month' never
-- (use date_bin).
SET TimeZone = 'Asia/Kolkata';
SELECT rollup.create_rollup('avg_of_avg', 'avg_1hour', $$
  SELECT site_id, date_trunc('hour', ingest_time) AS ingest_time, sum(response_time_sum) AS average_response_time_msec
    FROM http_request_1min GROUP BY 1, 2 $$);
RESET TimeZone;
SELECT rollup.create_rollup('avg_of_avg', 'avg_1hour', $$
  SELECT site_id, date_trunc('month', ingest_time) AS ingest_time, sum(response_time_sum) AS average_response_time_msec
    FROM http_request_1min GROUP BY 1, 2 $$);
SET TimeZone = 'Europe/Paris';
SELECT rollup.create_rollup('avg_of_avg', 'avg_1hour', $$
  SELECT site_id, date_trunc('day', ingest_time) AS ingest_time, sum(response_time_sum) AS average_response_time_msec
    FROM http_request_1min GROUP BY 1, 2 $$);
RESET TimeZone;
-- A rollup cannot feed its own source.
SELECT rollup.create_rollup('loop', 'http_request', $$
  SELECT site_id, date_trunc('hour', ingest_time) AS ingest_time, sum(request_count) AS status_code
    FROM http_request_1hour GROUP BY 1, 2 $$);
SELECT rollup.create_realtime_view('rollup_1hour', 'http_request_1hour_live');

CREATE FUNCTION hour_diff() RETURNS bigint LANGUAGE sql AS $$
  WITH truth AS (
    SELECT site_id, date_trunc('hour', ingest_time) AS ingest_time, COUNT(1) AS request_count,
           SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END) AS success_count,
           SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END) AS error_count,
           SUM(response_time_msec) AS response_time_sum
      FROM rtv.http_request WHERE ingest_time >= '2024-03-10 13:00:00+00' GROUP BY 1, 2),
  got AS (SELECT * FROM rtv.http_request_1hour_live WHERE ingest_time >= '2024-03-10 13:00:00+00')
  SELECT (SELECT count(*) FROM (SELECT * FROM truth EXCEPT ALL SELECT * FROM got) a) +
         (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM truth) b) $$;
SELECT hour_diff() AS hour_before_runs;
SELECT rollup_1hour() > 0 AS upper_ran;
SELECT hour_diff() AS hour_after_run;
-- A backfill below both frontiers: exact in both views at once; it flows up at the next runs.
INSERT INTO http_request (site_id, ingest_time, status_code, response_time_msec)
  VALUES (1, '2024-03-10 13:05:00+00', 404, 77), (4, '2024-03-10 14:59:59+00', 200, 5);
SELECT view_diff('2024-03-10 12:10:00+00') AS minute_backfill, hour_diff() AS hour_backfill;
SELECT rollup_1hour() >= 0 AS upper_first;   -- nothing new below: the lower has not run yet
SELECT hour_diff() AS hour_upper_first;
SELECT rollup_http_request() > 0 AS lower_ran;
SELECT hour_diff() AS hour_lower_ran;
SELECT rollup_1hour() > 0 AS upper_ran;
SELECT hour_diff() AS hour_both_ran, view_diff('2024-03-10 12:10:00+00') AS minute_both_ran;
-- The hourly target itself, below its frontier, against the raw rows.
SELECT count(*) AS hour_target_differences FROM (
  SELECT site_id, ingest_time, request_count, success_count, error_count, response_time_sum FROM http_request_1hour
   WHERE ingest_time >= '2024-03-10 13:00:00+00'
  EXCEPT ALL
  SELECT site_id, date_trunc('hour', ingest_time), COUNT(1), SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END),
         SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END), SUM(response_time_msec)
    FROM http_request WHERE ingest_time >= '2024-03-10 13:00:00+00' GROUP BY 1, 2) d;
SELECT name, level, source_rollup, realtime_views, frontier <= now() AS frontier_ok FROM rollup.rollups ORDER BY level;
SELECT rollup.drop_rollup('rollup_http_request');

-- A rollup whose target another rollup reads cannot be dropped before that one.
DROP VIEW http_request_live;
SELECT rollup.drop_rollup('rollup_http_request');
-- Clean up: the upper rollup's view, the upper rollup, then the lower one.
DROP VIEW http_request_1hour_live;
SELECT rollup.drop_rollup('rollup_1hour');
SELECT rollup.drop_rollup('rollup_http_request');
SELECT count(*) AS rollups_left FROM rollup.rollups;
DROP SCHEMA rtv CASCADE;
DROP ROLE rtv_other;

-- Review findings: levels are made bottom-up, one rollup per target, dropping a table with rollups
-- and views works, the real-time state is for readers of the target, rollup queries cannot call
-- rollup's own functions.
CREATE SCHEMA rtv2;
CREATE TABLE rtv2.raw (k int, at timestamptz, v int);
CREATE TABLE rtv2.per_min (k int, at timestamptz, n bigint);
CREATE TABLE rtv2.per_hour (k int, at timestamptz, n bigint);
SELECT create_distributed_table('rtv2.raw', 'k', 4);
SELECT create_distributed_table('rtv2.per_min', 'k', 4);
SELECT create_distributed_table('rtv2.per_hour', 'k', 4);
SELECT rollup.create_rollup('rtv2_hour', 'rtv2.per_hour',
  'SELECT k, date_bin(''1 hour'', at, ''2000-01-01'') AS at, sum(n) AS n FROM rtv2.per_min GROUP BY 1, 2');
SELECT rollup.create_rollup('rtv2_min', 'rtv2.per_min',
  'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM rtv2.raw GROUP BY 1, 2');
SELECT rollup.drop_rollup('rtv2_hour');
SELECT rollup.create_rollup('rtv2_min', 'rtv2.per_min',
  'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM rtv2.raw GROUP BY 1, 2');
SELECT rollup.create_rollup('rtv2_min_again', 'rtv2.per_min',
  'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM rtv2.raw GROUP BY 1, 2');
SELECT rollup.create_rollup('rtv2_own', 'rtv2.per_hour',
  'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM rtv2.raw WHERE at < rollup.realtime_frontier(''1'') GROUP BY 1, 2');
SELECT rollup.create_rollup('rtv2_hour', 'rtv2.per_hour',
  'SELECT k, date_bin(''1 hour'', at, ''2000-01-01'') AS at, sum(n) AS n FROM rtv2.per_min GROUP BY 1, 2');
SELECT rollup.create_realtime_view('rtv2_min', 'rtv2.min_live');
SELECT rollup.create_realtime_view('rtv2_hour', 'rtv2.hour_live');
\i sql/helpers/on_workers.sql
CREATE ROLE rtv_reader LOGIN;
SELECT pg_temp.on_workers('CREATE ROLE rtv_reader LOGIN; GRANT USAGE ON SCHEMA rtv2 TO rtv_reader');
GRANT USAGE ON SCHEMA rtv2 TO rtv_reader;
SELECT rollup_id AS min_id FROM rollup.rollup WHERE name = 'rtv2_min' \gset
CREATE FUNCTION pg_temp.sqlstate_of(command text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE command;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
-- A role without SELECT on the target learns nothing of the rollup's state, and reads nothing.
SET ROLE rtv_reader;
SELECT pg_temp.sqlstate_of('SELECT rollup.realtime_frontier(' || :min_id || ')') AS frontier_as_stranger,
       pg_temp.sqlstate_of('SELECT rollup.realtime_source_buckets(' || :min_id || ')') AS buckets_as_stranger,
       pg_temp.sqlstate_of('SELECT count(*) FROM rtv2.min_live') AS view_as_stranger;
RESET ROLE;
GRANT SELECT ON rtv2.per_min, rtv2.raw, rtv2.min_live TO rtv_reader;
SET ROLE rtv_reader;
SELECT pg_temp.sqlstate_of('SELECT rollup.realtime_frontier(' || :min_id || ')') AS frontier_as_reader,
       pg_temp.sqlstate_of('SELECT count(*) FROM rtv2.min_live') AS view_as_reader;
RESET ROLE;
-- Dropping the schema drops the tables, their rollups and the views, with no error.
DROP SCHEMA rtv2 CASCADE;
SELECT count(*) AS rollups_left FROM rollup.rollups;
DROP ROLE rtv_reader;
SELECT pg_temp.on_workers('DROP SCHEMA IF EXISTS rtv2 CASCADE; DROP ROLE rtv_reader');
