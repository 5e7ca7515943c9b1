-- Native incremental rollups (issue 11): rollup.create_rollup / run_rollup / drop_rollup, the
-- generated name() and rollup.rollups. Every check of the target compares it with a from-scratch
-- GROUP BY of the raw rows (rollup_diff), so "0" cannot record a wrong answer.
SET rollup.next_shard_id = 498000;
CREATE SCHEMA re;
SET search_path = re, public;
CREATE TABLE http_request (
  site_id INT, ingest_time TIMESTAMPTZ DEFAULT now(), url TEXT, request_country TEXT,
  ip_address TEXT, status_code INT, response_time_msec INT);
CREATE TABLE http_request_1min (
  site_id INT, ingest_time TIMESTAMPTZ, error_count INT, success_count INT, request_count INT,
  average_response_time_msec INT);
SELECT create_distributed_table('http_request', 'site_id', 4);
SELECT create_distributed_table('http_request_1min', 'site_id', 4);
INSERT INTO http_request (site_id, ingest_time, status_code, response_time_msec)
SELECT g % 7, timestamptz '2024-03-10 12:00:00+00' + g * interval '1.7 seconds', (ARRAY[200,404,500,201])[g % 4 + 1], g % 500
  FROM generate_series(1, 3000) g;

-- Rows of the target that differ from a from-scratch GROUP BY of the raw rows (both directions), for
-- the cells (site, minute) that still have raw rows, below the rollup's frontier.
CREATE FUNCTION rollup_diff() RETURNS bigint LANGUAGE sql AS $$
  WITH f AS (SELECT coalesce(max(frontier), '-infinity') AS frontier FROM rollup.rollups),
  truth AS (
    SELECT site_id, date_trunc('minute', ingest_time) AS ingest_time, COUNT(1)::int AS request_count,
           SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END)::int AS success_count,
           SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END)::int AS error_count,
           (SUM(response_time_msec) / COUNT(1))::int AS average_response_time_msec
      FROM re.http_request WHERE ingest_time < (SELECT frontier FROM f) GROUP BY 1, 2),
  got AS (SELECT site_id, ingest_time, request_count, success_count, error_count, average_response_time_msec
            FROM re.http_request_1min g
           WHERE (site_id, ingest_time) IN (SELECT site_id, ingest_time FROM truth))
  SELECT (SELECT count(*) FROM (SELECT * FROM truth EXCEPT ALL SELECT * FROM got) a) +
         (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM truth) b)
$$;

-- Validation: each error says what is wrong; nothing is created.
CREATE FUNCTION pg_temp.error_of(command text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.error_of($$SELECT rollup.create_rollup('r1', 'http_request_1min',
  'SELECT site_id, count(*) AS request_count FROM http_request GROUP BY 1')$$);
SELECT pg_temp.error_of($$SELECT rollup.create_rollup('r1', 'http_request_1min',
  'SELECT date_trunc(''minute'', ingest_time) AS ingest_time, count(*) AS request_count FROM http_request GROUP BY 1')$$);
SELECT pg_temp.error_of($$SELECT rollup.create_rollup('r1', 'http_request_1min',
  'SELECT site_id, date_trunc(''minute'', ingest_time) AS ingest_time, count(*) AS nope FROM http_request GROUP BY 1, 2')$$);
SELECT pg_temp.error_of($$SELECT rollup.create_rollup('r1', 'http_request_1min',
  'SELECT site_id, date_trunc(''minute'', ingest_time) AS ingest_time, max(url) AS request_count FROM http_request GROUP BY 1, 2')$$);
SELECT pg_temp.error_of($$SELECT rollup.create_rollup('r1', 'http_request_1min',
  'SELECT site_id, date_trunc(''month'', ingest_time) AS ingest_time, count(*) AS request_count FROM http_request GROUP BY 1, 2')$$);
SELECT pg_temp.error_of($$SELECT rollup.create_rollup('r1', 'http_request_1min',
  'SELECT site_id, date_trunc(''minute'', ingest_time) AS ingest_time, count(*) AS request_count FROM http_request GROUP BY 1, 2 ORDER BY 1')$$);
-- a target that is not a table (a local table is a target: rollup_local_target)
CREATE VIEW view_target AS SELECT 1 AS site_id, now() AS ingest_time, 1::bigint AS request_count;
SELECT pg_temp.error_of($$SELECT rollup.create_rollup('r1', 'view_target',
  'SELECT site_id, date_trunc(''minute'', ingest_time) AS ingest_time, count(*) AS request_count FROM http_request GROUP BY 1, 2')$$);
DROP VIEW view_target;
-- the tutorial's PL/pgSQL function of the same name is never replaced
CREATE FUNCTION rollup_http_request() RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$;
SELECT pg_temp.error_of($$SELECT rollup.create_rollup('rollup_http_request', 'http_request_1min',
  'SELECT site_id, date_trunc(''minute'', ingest_time) AS ingest_time, count(*) AS request_count FROM http_request GROUP BY 1, 2')$$);
DROP FUNCTION rollup_http_request();
SELECT count(*) AS rollups FROM rollup.rollups;

-- The tutorial's rollup, natively.
SELECT rollup.create_rollup('rollup_http_request', 'http_request_1min', $$
  SELECT site_id, date_trunc('minute', ingest_time) AS ingest_time,
         COUNT(1) AS request_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 1 ELSE 0 END) AS success_count,
         SUM(CASE WHEN (status_code between 200 and 299) THEN 0 ELSE 1 END) AS error_count,
         SUM(response_time_msec) / COUNT(1) AS average_response_time_msec
    FROM http_request GROUP BY 1, 2 $$);
SELECT name, source, target, frontier IS NULL AS never_ran FROM rollup.rollups;
-- the indexes it added (on the shells here; DDL propagation puts them on every shard): BRIN of 16
-- pages per range on the source's time column, a btree on the target's bucket column
SELECT c.relname ~ '_1min' AS target, c.relname ~ '_[0-9]+$' AS shard, count(*) AS indexes, min(pg_get_indexdef(i.indexrelid)) ~ 'USING brin \(ingest_time\) WITH \(pages_per_range=''16'', autosummarize=''on''\)' AS brin_16,
       bool_and(pg_get_indexdef(i.indexrelid) ~ 'USING (brin|btree) \(ingest_time\)') AS on_bucket
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
 WHERE c.relname ~ '^http_request(_1min)?(_[0-9]+)?$' AND pg_get_indexdef(i.indexrelid) ~ '\(ingest_time\)'
 GROUP BY 1, 2 ORDER BY 1, 2;
-- a table that already holds rows is materialized on the first run
SELECT rollup_http_request() > 0 AS wrote_rows;
SELECT rollup_diff() AS differences;
SELECT frontier > '2024-03-10 14:00:00+00' AS frontier_moved, last_rows > 0 AS rows_reported, last_error
  FROM rollup.rollups;
-- nothing new: nothing written
SELECT rollup.run_rollup('rollup_http_request') AS rows_written;
-- Backfill into buckets that are rolled up already: recorded by the writer, recomputed by the next run.
INSERT INTO http_request (site_id, ingest_time, status_code, response_time_msec)
SELECT g % 5, timestamptz '2024-03-10 12:30:00+00' + g * interval '2 seconds', 500, g FROM generate_series(1, 300) g;
SELECT rollup_diff() > 0 AS stale_before_run;
SELECT pending_ranges > 0 AS recorded FROM rollup.rollups;
SELECT rollup.run_rollup('rollup_http_request') > 0 AS wrote_rows;
SELECT rollup_diff() AS differences, (SELECT pending_ranges FROM rollup.rollups) AS pending;
-- COPY into rolled-up buckets
COPY http_request (site_id, ingest_time, status_code, response_time_msec) FROM STDIN;
3	2024-03-10 12:05:30+00	200	42
4	2024-03-10 13:00:01+00	404	7
\.
SELECT rollup.run_rollup('rollup_http_request') > 0 AS wrote_rows;
SELECT rollup_diff() AS differences;
-- UPDATE and DELETE of raw rows in rolled-up buckets
UPDATE http_request SET status_code = 200 WHERE site_id = 2 AND status_code = 404;
DELETE FROM http_request WHERE site_id = 1 AND response_time_msec < 100;
SELECT rollup.run_rollup('rollup_http_request') > 0 AS wrote_rows;
SELECT rollup_diff() AS differences;
-- Time-bounded UPDATE and DELETE record only the range their WHERE clause allows (either operand order).
DELETE FROM http_request WHERE ingest_time >= '2024-03-10 12:05:00+00' AND ingest_time < '2024-03-10 12:06:00+00' AND response_time_msec > 40;
UPDATE http_request SET status_code = 500 WHERE '2024-03-10 13:00:00+00' <= ingest_time AND ingest_time <= '2024-03-10 13:00:30+00';
SELECT rollup_diff() > 0 AS stale_before_run;
SELECT rollup.run_rollup('rollup_http_request') > 0 AS wrote_rows;
SELECT rollup_diff() AS differences;
-- A transaction that writes and rolls back leaves the rollup exact too (over-recording is harmless).
BEGIN;
INSERT INTO http_request (site_id, ingest_time, status_code, response_time_msec) VALUES (6, '2024-03-10 12:01:00+00', 200, 1);
ROLLBACK;
SELECT rollup.run_rollup('rollup_http_request') >= 0 AS ran;
SELECT rollup_diff() AS differences;
-- Cells whose raw rows are all gone (the tutorial's expiry) keep their rolled-up rows.
SELECT count(*) AS cells_before FROM http_request_1min WHERE site_id = 0;
DELETE FROM http_request WHERE site_id = 0;
SELECT rollup.run_rollup('rollup_http_request') >= 0 AS ran;
SELECT count(*) AS cells_after FROM http_request_1min WHERE site_id = 0;
SELECT rollup_diff() AS differences;
-- The bucket in progress is held back: rows of the current minute are not materialized yet.
INSERT INTO http_request (site_id, ingest_time, status_code, response_time_msec) VALUES (3, now(), 200, 5);
SELECT rollup.run_rollup('rollup_http_request') >= 0 AS ran;
SELECT count(*) AS current_minute_rows FROM http_request_1min WHERE ingest_time >= date_trunc('minute', now());
SELECT frontier <= date_trunc('minute', now()) AS held_back FROM rollup.rollups;

-- Retention never expires raw rows a rollup has not consumed: before the first run nothing expires;
-- afterwards the cutoff stops at the frontier, and the rolled-up rows stay.
CREATE TABLE raw2 (site_id int, at timestamptz, v int);
CREATE TABLE agg2 (site_id int, at timestamptz, n bigint);
SELECT create_distributed_table('raw2', 'site_id', 4);
SELECT create_distributed_table('agg2', 'site_id', 4);
INSERT INTO raw2 SELECT g % 3, now() - interval '3 days' + g * interval '1 minute', g FROM generate_series(1, 100) g;
SELECT rollup.create_rollup('rollup_raw2', 'agg2',
  'SELECT site_id, date_bin(''1 hour'', at, ''2000-01-01 00:00:00+00'') AS at, count(*) AS n FROM raw2 GROUP BY 1, 2');
SELECT rollup.set_retention('raw2', 'at', '1 day');
SELECT rollup.expire('raw2') AS expired_before_first_run;
SELECT count(*) AS raw_rows FROM raw2;
SELECT rollup_raw2() > 0 AS wrote_rows;
SELECT rollup.expire('raw2') AS expired;
SELECT count(*) AS raw_rows_left, (SELECT sum(n) FROM agg2) AS rolled_up FROM raw2;
SELECT rollup.remove_retention('raw2');
SELECT rollup.drop_rollup('rollup_raw2');
DROP TABLE raw2, agg2;

-- ON CONFLICT DO UPDATE changes rows that were already there (their times are not the new row's),
-- a row at -infinity is materialized by the first run, and columns a rollup uses cannot be renamed.
CREATE TABLE ev (k int, ts timestamptz, v int, id int, UNIQUE (k, id));
CREATE TABLE ev_agg (k int, b timestamptz, n bigint, s bigint);
SELECT create_distributed_table('ev', 'k', 4);
SELECT create_distributed_table('ev_agg', 'k', 4);
INSERT INTO ev SELECT g % 4, timestamptz '2024-01-01 00:00:00+00' + g * interval '13 seconds', g, g FROM generate_series(1, 200) g;
INSERT INTO ev VALUES (1, '-infinity', 5, 10000);
SELECT rollup.create_rollup('rollup_ev', 'ev_agg',
  'SELECT k, date_trunc(''minute'', ts) AS b, count(*) AS n, sum(v) AS s FROM ev GROUP BY 1, 2');
CREATE FUNCTION ev_diff() RETURNS bigint LANGUAGE sql AS $$
  WITH f AS (SELECT frontier FROM rollup.rollups WHERE name = 'rollup_ev'),
  truth AS (SELECT k, date_trunc('minute', ts) AS b, count(*) AS n, sum(v) AS s FROM re.ev
             WHERE ts < (SELECT frontier FROM f) GROUP BY 1, 2),
  got AS (SELECT * FROM re.ev_agg WHERE (k, b) IN (SELECT k, b FROM truth))
  SELECT (SELECT count(*) FROM (SELECT * FROM truth EXCEPT ALL SELECT * FROM got) a) +
         (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM truth) b) $$;
SELECT rollup_ev() > 0 AS wrote_rows;
SELECT count(*) AS minus_infinity_cells FROM ev_agg WHERE b = '-infinity';
SELECT ev_diff() AS differences;
INSERT INTO ev VALUES (2, now(), 1000, 6) ON CONFLICT (k, id) DO UPDATE SET v = excluded.v;
INSERT INTO ev VALUES (3, now(), 1, 7) ON CONFLICT (k, id) DO UPDATE SET ts = excluded.ts;
SELECT rollup_ev() >= 0 AS ran;
SELECT ev_diff() AS differences;
SELECT pg_temp.error_of('ALTER TABLE ev RENAME COLUMN ts TO ts2');
SELECT pg_temp.error_of('SELECT undistribute_table(''ev_agg'')');
SELECT rollup.drop_rollup('rollup_ev');
DROP FUNCTION ev_diff();
DROP TABLE ev, ev_agg;

-- Expiry takes whole buckets only: a bucket is never left half expired for a later run to rewrite.
CREATE TABLE raw3 (k int, at timestamptz, v int);
CREATE TABLE agg3 (k int, at timestamptz, n bigint);
SELECT create_distributed_table('raw3', 'k', 4);
SELECT create_distributed_table('agg3', 'k', 4);
INSERT INTO raw3 SELECT 1, date_trunc('hour', now()) - interval '4 hours' + g * interval '1 minute', g FROM generate_series(0, 239) g;
SELECT rollup.create_rollup('rollup_raw3', 'agg3',
  'SELECT k, date_bin(''1 hour'', at, ''2000-01-01 00:00:00+00'') AS at, count(*) AS n FROM raw3 GROUP BY 1, 2');
SELECT rollup_raw3() > 0 AS wrote_rows;
SELECT rollup.set_retention('raw3', 'at', '150 minutes');
SELECT rollup.expire('raw3') > 0 AS expired_some;
-- every bucket that still has raw rows has all of them
SELECT count(*) AS partial_buckets FROM
  (SELECT date_bin('1 hour', at, '2000-01-01 00:00:00+00') AS b, count(*) AS c FROM raw3 GROUP BY 1) r
  JOIN agg3 a ON a.at = r.b WHERE a.n <> r.c;
UPDATE raw3 SET v = v + 1;
SELECT rollup_raw3() >= 0 AS ran;
SELECT sum(n) AS rolled_up_rows FROM agg3;
SELECT rollup.remove_retention('raw3');
SELECT rollup.drop_rollup('rollup_raw3');
DROP TABLE raw3, agg3;

-- A table owner who is not a superuser creates and runs a rollup of their tables; a superuser who
-- runs it does not lend it their rights (the shard statements run as the target's owner).
\i sql/helpers/on_workers.sql
CREATE ROLE re_alice LOGIN;
SELECT pg_temp.on_workers('CREATE ROLE re_alice LOGIN');
GRANT CREATE, USAGE ON SCHEMA re TO re_alice;
SELECT pg_temp.on_workers('GRANT CREATE, USAGE ON SCHEMA re TO re_alice');
SET ROLE re_alice;
CREATE TABLE alice_raw (k int, at timestamptz, v int);
CREATE TABLE alice_agg (k int, at timestamptz, n bigint, who text);
SELECT create_distributed_table('alice_raw', 'k', 4);
SELECT create_distributed_table('alice_agg', 'k', 4);
INSERT INTO alice_raw SELECT g % 3, timestamptz '2024-01-01 00:00+00' + g * interval '10 seconds', g FROM generate_series(1, 100) g;
SELECT rollup.create_rollup('rollup_alice', 'alice_agg',
  'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n, current_user::text AS who FROM alice_raw GROUP BY 1, 2');
SELECT rollup_alice() > 0 AS alice_ran;
RESET ROLE;
INSERT INTO alice_raw VALUES (1, '2024-01-01 00:00:05+00', 1);
SELECT rollup.run_rollup('rollup_alice') > 0 AS superuser_ran;
SELECT DISTINCT who FROM alice_agg;
SELECT pg_get_userbyid(proowner) AS function_owner FROM pg_proc WHERE proname = 'rollup_alice';
SELECT rollup.drop_rollup('rollup_alice');
DROP TABLE alice_raw, alice_agg;
REVOKE ALL ON SCHEMA re FROM re_alice;
DROP ROLE re_alice;
SELECT pg_temp.on_workers('REVOKE ALL ON SCHEMA re FROM re_alice; DROP ROLE re_alice');
DROP EXTENSION dblink;

-- DROP TABLE of a rollup's source takes the rollup and its function with it.
CREATE TABLE dr_raw (k int, at timestamptz);
CREATE TABLE dr_agg (k int, at timestamptz, n bigint);
SELECT create_distributed_table('dr_raw', 'k', 4);
SELECT create_distributed_table('dr_agg', 'k', 4);
SELECT rollup.create_rollup('rollup_dr', 'dr_agg', 'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM dr_raw GROUP BY 1, 2');
DROP TABLE dr_raw;
SELECT count(*) AS rollups_left FROM rollup.rollups WHERE name = 'rollup_dr';
SELECT count(*) AS functions_left FROM pg_proc WHERE proname = 'rollup_dr';
DROP TABLE dr_agg;

-- drop: the generated function goes, the target stays
SELECT rollup.drop_rollup('rollup_http_request');
SELECT count(*) AS rollups FROM rollup.rollups;
SELECT count(*) FROM pg_proc WHERE proname = 'rollup_http_request';
SELECT count(*) > 0 AS target_kept FROM http_request_1min;
RESET search_path;
DROP SCHEMA re CASCADE;
