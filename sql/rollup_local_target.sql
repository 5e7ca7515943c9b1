-- Native rollups into a local target (issue 11: "the target is distributed and co-located with the
-- source, or a local table (then the run goes through the coordinator)"). Every check compares the
-- target with a from-scratch GROUP BY of the raw rows (lt_diff), in both directions.
SET rollup.next_shard_id = 499000;
CREATE SCHEMA lt;
SET search_path = lt, public;
CREATE TABLE events (site_id int, at timestamptz, status int, ms int);
SELECT create_distributed_table('events', 'site_id', 4);
-- the target: a plain table of the coordinator, with a column the query does not fill
CREATE TABLE events_1min (site_id int, at timestamptz, n bigint, errors bigint, ms_sum bigint,
                          ms_max int, note text DEFAULT 'kept');
INSERT INTO events SELECT g % 5, timestamptz '2024-05-01 10:00:00+00' + g * interval '2.5 seconds', (ARRAY[200, 500])[g % 2 + 1], g % 300
  FROM generate_series(1, 2000) g;

-- Target rows that differ from a from-scratch GROUP BY (cells with raw rows below the frontier).
CREATE FUNCTION lt_diff() RETURNS bigint LANGUAGE sql AS $$
  WITH f AS (SELECT coalesce(frontier, '-infinity') AS frontier FROM rollup.rollups WHERE name = 'rollup_events'),
  truth AS (SELECT site_id, date_trunc('minute', at) AS at, count(*) AS n, count(*) FILTER (WHERE status >= 500) AS errors,
                   sum(ms) AS ms_sum, max(ms) AS ms_max
              FROM lt.events WHERE at < (SELECT frontier FROM f) GROUP BY 1, 2),
  got AS (SELECT site_id, at, n, errors, ms_sum, ms_max FROM lt.events_1min
           WHERE (site_id, at) IN (SELECT site_id, at FROM truth))
  SELECT (SELECT count(*) FROM (SELECT * FROM truth EXCEPT ALL SELECT * FROM got) a) +
         (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM truth) b)
$$;

SELECT rollup.create_rollup('rollup_events', 'events_1min', $$
  SELECT site_id, date_trunc('minute', at) AS at, count(*) AS n, count(*) FILTER (WHERE status >= 500) AS errors,
         sum(ms) AS ms_sum, max(ms) AS ms_max
    FROM events GROUP BY 1, 2 $$);
-- the btree create_rollup adds on the target's bucket column (the local table itself)
SELECT count(*) AS bucket_indexes FROM pg_index i WHERE i.indrelid = 'events_1min'::regclass
   AND pg_get_indexdef(i.indexrelid) ~ 'btree \(at\)';

-- the first run materializes what is there; the target equals a from-scratch GROUP BY
SELECT rollup_events() AS rows_written;
SELECT frontier IS NOT NULL AS ran, lt_diff() AS differences FROM rollup.rollups WHERE name = 'rollup_events';
SELECT count(*) AS cells, sum(n) AS rows_counted, count(*) FILTER (WHERE note = 'kept') AS defaults_filled FROM events_1min;
-- nothing new: nothing written
SELECT rollup_events() AS rows_written;

-- new rows above the frontier, a backfill below it, an UPDATE that moves a row across minutes and
-- a DELETE of rolled-up rows: the next run makes every touched cell exact again
INSERT INTO events VALUES (1, '2024-05-01 11:30:00+00', 200, 7), (2, '2024-05-01 11:31:10+00', 500, 9);
INSERT INTO events VALUES (3, '2024-05-01 10:05:30+00', 500, 999), (9, '2024-05-01 10:06:00+00', 200, 5);
UPDATE events SET at = at + interval '40 minutes' WHERE site_id = 4 AND at < '2024-05-01 10:02:00+00';
DELETE FROM events WHERE site_id = 0 AND at >= '2024-05-01 10:20:00+00' AND at < '2024-05-01 10:22:00+00';
SELECT lt_diff() > 0 AS stale_before_the_run;
SELECT rollup_events() > 0 AS wrote;
SELECT lt_diff() AS differences;
SELECT n, ms_max FROM events_1min WHERE site_id = 3 AND at = '2024-05-01 10:05:00+00';
SELECT count(*) AS cells_of_site_9 FROM events_1min WHERE site_id = 9;
-- the cells emptied by the DELETE have no raw rows left: they keep their rolled-up rows, as a
-- distributed target does (rows leave a rollup by being deleted from the target)
SELECT count(*) AS kept_cells FROM events_1min WHERE site_id = 0 AND at >= '2024-05-01 10:20:00+00' AND at < '2024-05-01 10:22:00+00';

-- a real-time view over the local target: a from-scratch GROUP BY of every raw row, at every moment
SELECT rollup.create_realtime_view('rollup_events', 'events_live');
INSERT INTO events VALUES (1, '2024-05-01 11:45:00+00', 500, 1), (3, '2024-05-01 10:30:30+00', 200, 2);
-- (rows in one and not the other, either way): only the four cells whose raw rows the DELETE and the
-- UPDATE took away, which the view shows as the target keeps them
CREATE FUNCTION lt_truth() RETURNS TABLE (site_id int, at timestamptz, n bigint, errors bigint, ms_sum bigint, ms_max int)
LANGUAGE sql AS $$
  SELECT site_id, date_trunc('minute', at), count(*), count(*) FILTER (WHERE status >= 500), sum(ms), max(ms)
    FROM lt.events GROUP BY 1, 2 $$;
SELECT 'missing from the view' AS what, * FROM (SELECT * FROM lt_truth() EXCEPT ALL SELECT site_id, at, n, errors, ms_sum, ms_max FROM events_live) a
UNION ALL
SELECT 'only in the view', * FROM (SELECT site_id, at, n, errors, ms_sum, ms_max FROM events_live EXCEPT ALL SELECT * FROM lt_truth()) b
ORDER BY 1, 2, 3;

-- a run inside a transaction that rolls back leaves the target and the frontier as they were
SELECT frontier AS frontier_before, last_run_start AS last_run_before FROM rollup.rollups WHERE name = 'rollup_events' \gset
BEGIN;
SELECT rollup_events() > 0 AS wrote;
ROLLBACK;
SELECT lt_diff() > 0 AS stale_again, frontier = :'frontier_before' AS frontier_unmoved,
       last_run_start = :'last_run_before' AS no_run_recorded
  FROM rollup.rollups WHERE name = 'rollup_events';
SELECT rollup_events() > 0 AS wrote;
SELECT lt_diff() AS differences;

-- a column the runs write cannot be renamed while the rollup exists; the table can
DO $$ BEGIN
  ALTER TABLE events_1min RENAME COLUMN n TO request_count;
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;
ALTER TABLE events_1min RENAME TO events_per_minute;
INSERT INTO events VALUES (2, '2024-05-01 10:10:10+00', 500, 3);
SELECT rollup_events() > 0 AS wrote_into_renamed_table;
SELECT target FROM rollup.rollups WHERE name = 'rollup_events';
ALTER TABLE events_per_minute RENAME TO events_1min;
SELECT lt_diff() AS differences;

-- the attack: a role rolls a table it cannot read up into a local table it owns, to read the
-- aggregates there. Only the owner of source and target may create a rollup: nothing is created.
CREATE ROLE lt_mallory;
GRANT USAGE, CREATE ON SCHEMA lt TO lt_mallory;
SET ROLE lt_mallory;
CREATE TABLE mine (site_id int, at timestamptz, n bigint);
DO $$ BEGIN
  PERFORM rollup.create_rollup('rollup_mallory', 'lt.mine', 'SELECT site_id, date_trunc(''minute'', at) AS at, count(*) AS n FROM lt.events GROUP BY 1, 2');
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;
RESET ROLE;
SELECT count(*) AS mallory_rollups FROM rollup.rollups WHERE name = 'rollup_mallory';
SELECT count(*) AS rows_gained FROM mine;
DROP TABLE mine;
REVOKE ALL ON SCHEMA lt FROM lt_mallory;
DROP ROLE lt_mallory;

-- DROP TABLE of a local target takes its rollup and the rollup's function along (a dangling
-- rollup would fail at every scheduled run)
CREATE TABLE events_1hour (site_id int, at timestamptz, n bigint);
SELECT rollup.create_rollup('rollup_events_hourly', 'events_1hour', 'SELECT site_id, date_trunc(''hour'', at) AS at, count(*) AS n FROM lt.events GROUP BY 1, 2');
SELECT rollup_events_hourly() > 0 AS wrote;
DROP TABLE events_1hour;
SELECT count(*) AS rollups_left FROM rollup.rollups WHERE name = 'rollup_events_hourly';
SELECT count(*) AS functions_left FROM pg_proc WHERE proname = 'rollup_events_hourly';
SELECT count(*) AS rollups_kept FROM rollup.rollups WHERE name = 'rollup_events';

DROP VIEW events_live;
SELECT rollup.drop_rollup('rollup_events');
SELECT count(*) > 0 AS target_kept FROM events_1min;
RESET search_path;
DROP SCHEMA lt CASCADE;
