-- Attacks on native rollups into local targets, and the settings a run is made under (found by
-- review; each written as the attack, asserting that nothing was gained or lost).
SET rollup.next_shard_id = 497000;
CREATE SCHEMA srt;
SET search_path = srt, public;
\i sql/helpers/on_workers.sql
CREATE ROLE srt_mallory LOGIN;
SELECT pg_temp.on_workers('CREATE ROLE srt_mallory LOGIN');
GRANT CREATE, USAGE ON SCHEMA srt TO srt_mallory;
SELECT pg_temp.on_workers('CREATE SCHEMA IF NOT EXISTS srt; GRANT CREATE, USAGE ON SCHEMA srt TO srt_mallory');

-- 1. A local target's owner plants a trigger that changes the session's settings with
-- set_config(..., false); a superuser runs the rollup. Nothing of it outlives the run: the
-- superuser's search_path, and every other setting, are what they were.
SET ROLE srt_mallory;
CREATE TABLE srt.ev (k int, at timestamptz, v int);
SELECT create_distributed_table('srt.ev', 'k', 4);
INSERT INTO srt.ev SELECT g % 3, timestamptz '2024-01-01 00:00+00' + g * interval '10 s', g FROM generate_series(1, 100) g;
CREATE TABLE srt.tgt (k int, at timestamptz, n bigint);
CREATE FUNCTION srt.plant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'srt, pg_catalog, public', false);
    PERFORM pg_catalog.set_config('application_name', 'planted', false);
    PERFORM pg_catalog.set_config('srt.planted', 'yes', false);
    RETURN NULL;
END $$;
CREATE TRIGGER plant AFTER INSERT ON srt.tgt FOR EACH STATEMENT EXECUTE FUNCTION srt.plant();
SELECT rollup.create_rollup('srt_rollup', 'srt.tgt', 'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM srt.ev GROUP BY 1, 2');
RESET ROLE;
SET search_path = public;
SET application_name = 'before';
SELECT rollup.run_rollup('srt_rollup') > 0 AS superuser_ran;
SELECT current_setting('search_path') AS search_path, current_setting('application_name') AS application_name,
       current_setting('srt.planted', true) IS NULL OR current_setting('srt.planted', true) = '' AS nothing_planted,
       current_user;
-- the trigger did run (as its owner), inside the run
SELECT count(*) > 0 AS rows_written FROM srt.tgt;
-- and a run inside a transaction block leaks nothing either
BEGIN;
INSERT INTO srt.ev VALUES (1, '2024-01-01 00:00:05+00', 7);
SELECT rollup.run_rollup('srt_rollup') >= 0 AS superuser_ran;
SELECT current_setting('search_path') AS search_path, current_setting('application_name') AS application_name;
COMMIT;
RESET application_name;
SET search_path = srt, public;

-- 2. A temporary table as a local target would vanish with its session (and a rollup naming a
-- dropped relation crashed the server when it ran): refused.
SET ROLE srt_mallory;
CREATE TEMP TABLE tmp_tgt (k int, at timestamptz, n bigint);
DO $$ BEGIN
  PERFORM rollup.create_rollup('srt_tmp', 'tmp_tgt', 'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM srt.ev GROUP BY 1, 2');
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;
DROP TABLE tmp_tgt;

-- 3. Distributing a local target afterwards would let runs write source shard i's cells into
-- target shard i, whatever their keys: refused.
CREATE TABLE srt.tgt3 (k int, at timestamptz, n bigint);
SELECT rollup.create_rollup('srt_three', 'srt.tgt3', 'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM srt.ev GROUP BY 1, 2');
DO $$ BEGIN
  PERFORM create_distributed_table('srt.tgt3', 'n', 4);
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;
SELECT rollup.is_distributed('srt.tgt3') AS target_distributed;
SELECT rollup.drop_rollup('srt_three');

-- 4. Key and bucket columns the runs cannot compare with the source's: refused at creation
-- (a text key passed, then every run that recomputed a cell failed).
CREATE TABLE srt.tgt_text (k text, at timestamptz, n bigint);
DO $$ BEGIN
  PERFORM rollup.create_rollup('srt_text', 'srt.tgt_text', 'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM srt.ev GROUP BY 1, 2');
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;
CREATE TABLE srt.tgt_ts (k int, at timestamp, n bigint);
DO $$ BEGIN
  PERFORM rollup.create_rollup('srt_ts', 'srt.tgt_ts', 'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM srt.ev GROUP BY 1, 2');
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;
-- a bigint key for an int source compares fine
CREATE TABLE srt.tgt_big (k bigint, at timestamptz, n bigint);
SELECT rollup.create_rollup('srt_big', 'srt.tgt_big', 'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM srt.ev GROUP BY 1, 2');
SELECT srt_big() > 0 AS wrote;
INSERT INTO srt.ev VALUES (2, '2024-01-01 00:00:07+00', 1);
SELECT srt_big() > 0 AS recomputed;
SELECT n FROM srt.tgt_big WHERE k = 2 AND at = '2024-01-01 00:00:00+00';
SELECT count(*) FILTER (WHERE k = 2 AND date_trunc('minute', at) = '2024-01-01 00:00:00+00') AS truth FROM srt.ev;
SELECT rollup.drop_rollup('srt_big');

-- 5. A column of the target renamed through an inheritance parent: refused like a direct rename.
CREATE TABLE srt.par (k int, at timestamptz, n bigint);
CREATE TABLE srt.child () INHERITS (srt.par);
SELECT rollup.create_rollup('srt_child', 'srt.child', 'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM srt.ev GROUP BY 1, 2');
DO $$ BEGIN
  ALTER TABLE srt.par RENAME COLUMN n TO m;
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;
SELECT srt_child() > 0 AS still_runs;
SELECT rollup.drop_rollup('srt_child');
RESET ROLE;

-- 6. The session's DateStyle and TimeZone, and float output, do not change what a run recomputes:
-- a zone abbreviation (IST reads back as Israel time) or a float printed short would make it
-- recompute the wrong buckets or miss cells, and lose the rows it had consumed.
SET ROLE srt_mallory;
INSERT INTO srt.ev VALUES (1, '2024-01-01 00:01:05+00', 1000);   -- a late row below the frontier
SET DateStyle = 'Postgres, MDY';
SET TimeZone = 'Asia/Kolkata';
SELECT rollup.run_rollup('srt_rollup') > 0 AS recomputed;
RESET DateStyle;
RESET TimeZone;
SELECT count(*) AS differences FROM (
  (SELECT k, date_trunc('minute', at) AS at, count(*) AS n FROM srt.ev GROUP BY 1, 2 EXCEPT ALL SELECT * FROM srt.tgt)
  UNION ALL
  (SELECT * FROM srt.tgt EXCEPT ALL SELECT k, date_trunc('minute', at), count(*) FROM srt.ev GROUP BY 1, 2)) d;
-- a float8 key whose short form reads back as another value
CREATE TABLE srt.fev (k float8, at timestamptz, v int);
SELECT create_distributed_table('srt.fev', 'k', 4);
INSERT INTO srt.fev VALUES (0.1::float8 + 0.2::float8, '2024-01-01 00:00:05+00', 1), (1.5, '2024-01-01 00:00:06+00', 1);
CREATE TABLE srt.ftgt (k float8, at timestamptz, n bigint);
SELECT rollup.create_rollup('srt_float', 'srt.ftgt', 'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM srt.fev GROUP BY 1, 2');
SELECT srt_float() AS first_rows;
INSERT INTO srt.fev VALUES (0.1::float8 + 0.2::float8, '2024-01-01 00:00:07+00', 1);
SET extra_float_digits = 0;
SELECT srt_float() AS recomputed_rows;
RESET extra_float_digits;
SELECT count(*) AS cells, sum(n) AS rows_counted, count(DISTINCT (k, at)) AS distinct_cells FROM srt.ftgt;
SELECT rollup.drop_rollup('srt_float');
RESET ROLE;

-- 7. A superuser's first run of a rollup whose local target another role owns, inside a
-- transaction block: every read of the run goes to the nodes as the target's owner.
CREATE TABLE srt.tgt2 (k int, at timestamptz, n bigint);
ALTER TABLE srt.tgt2 OWNER TO srt_mallory;
SELECT rollup.create_rollup('srt_second', 'srt.tgt2', 'SELECT k, date_trunc(''minute'', at) AS at, count(*) AS n FROM srt.ev GROUP BY 1, 2');
BEGIN;
SELECT rollup.run_rollup('srt_second') > 0 AS first_run_in_a_block;
COMMIT;
SELECT rollup.drop_rollup('srt_second');

SELECT rollup.drop_rollup('srt_rollup');
RESET search_path;
DROP SCHEMA srt CASCADE;
REVOKE ALL ON SCHEMA public FROM srt_mallory;
DROP ROLE srt_mallory;
SELECT pg_temp.on_workers('DROP SCHEMA IF EXISTS srt CASCADE; DROP ROLE srt_mallory');
RESET rollup.next_shard_id;
