--
-- undistribute_table brings the rows of a distributed table back into the coordinator's table and
-- drops the shards; DROP TABLE of a distributed table drops its shards on every node.
--
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
CREATE FUNCTION pg_temp.worker(n int) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT format('host=127.0.0.1 port=%s dbname=%s user=postgres',
                  current_setting('regress.worker_' || n || '_port'), current_database())
$$;
-- The tables named like shards of a table (<name>_<number>) on each worker.
CREATE FUNCTION pg_temp.shards_on_workers(name text) RETURNS TABLE (worker int, shards bigint)
LANGUAGE sql AS $$
    SELECT w, t.n
      FROM generate_series(1, 2) AS w,
           LATERAL dblink(pg_temp.worker(w), format(
               'SELECT count(*) FROM pg_class WHERE relkind = %L AND relname ~ %L',
               'r', '^' || name || '_[0-9]+$')) AS t(n bigint)
     ORDER BY w
$$;
SET rollup.next_shard_id TO 300000;

-- A table with a bit of everything: NULLs, text that needs quoting, timestamps, a default,
-- a CHECK constraint, a primary key that includes the distribution column, an index.
CREATE TABLE events (
    site_id int NOT NULL,
    event_id bigint NOT NULL,
    at timestamptz DEFAULT now(),
    body text,
    tags text[],
    amount numeric(10, 2) CHECK (amount >= 0),
    PRIMARY KEY (site_id, event_id)
);
CREATE INDEX events_at_idx ON events (at);
INSERT INTO events
SELECT i % 50, i, '2024-03-01 12:00:00+00'::timestamptz + i * interval '1 minute',
       CASE WHEN i % 7 = 0 THEN NULL ELSE E'it''s a "body"\twith\\specials ' || i END,
       CASE WHEN i % 5 = 0 THEN NULL ELSE ARRAY['a' || i, NULL, 'c'] END,
       CASE WHEN i % 3 = 0 THEN NULL ELSE i / 100.0 END
  FROM generate_series(1, 5000) AS i;
CREATE TABLE events_copy AS SELECT * FROM events;

SELECT create_distributed_table('events', 'site_id', 8);
SELECT sum(row_count) AS rows_in_shards FROM rollup.shard_stats('events');
SELECT * FROM pg_temp.shards_on_workers('events');

-- Undistributing inside a transaction that is rolled back changes nothing.
BEGIN;
SELECT undistribute_table('events');
ROLLBACK;
SELECT rollup.is_distributed('events');
SELECT sum(row_count) AS rows_in_shards FROM rollup.shard_stats('events');
SELECT * FROM pg_temp.shards_on_workers('events');

-- Undistribute: the rows come back, the shards and the metadata are gone.
SELECT undistribute_table('events');
SELECT rollup.is_distributed('events');
SELECT count(*) AS metadata_rows FROM rollup.shard WHERE logicalrelid = 'events'::regclass;
SELECT count(*) AS metadata_rows FROM rollup.dist_table WHERE logicalrelid = 'events'::regclass;
SELECT * FROM pg_temp.shards_on_workers('events');
SELECT count(*) AS rows_back FROM events;
-- The same rows as before, as a multiset (each difference is listed; none expected).
(SELECT * FROM events_copy EXCEPT ALL SELECT * FROM events)
UNION ALL
(SELECT * FROM events EXCEPT ALL SELECT * FROM events_copy);
-- The table is a plain local table again, with its constraints: writes go to it, keys are enforced.
INSERT INTO events (site_id, event_id, body) VALUES (1, 1, 'duplicate key');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO events (site_id, event_id, at, amount) VALUES (1, 100000, '2024-01-01 00:00:00+00', -1);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO events (site_id, event_id, body) VALUES (1, 100000, 'new');
SELECT count(*) FROM events;
-- ... and it can be distributed again.
SELECT create_distributed_table('events', 'site_id', 4);
SELECT sum(row_count) AS rows_in_shards FROM rollup.shard_stats('events');

-- Errors: a table that is not distributed (22023); another user's table (42501); NULL gives NULL.
SELECT undistribute_table('events_copy');
\echo :LAST_ERROR_SQLSTATE
CREATE ROLE undistribute_user;
SET ROLE undistribute_user;
SELECT undistribute_table('events');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE undistribute_user;
SELECT undistribute_table(NULL) IS NULL AS strict;
SELECT rollup.is_distributed('events');

--
-- DROP TABLE drops the shards on the workers, with the metadata.
--
-- A DROP that is rolled back keeps them.
BEGIN;
DROP TABLE events;
ROLLBACK;
SELECT * FROM pg_temp.shards_on_workers('events');
SELECT sum(row_count) AS rows_in_shards FROM rollup.shard_stats('events');
DROP TABLE events;
SELECT * FROM pg_temp.shards_on_workers('events');
SELECT count(*) AS metadata_rows FROM rollup.shard s
 WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = s.logicalrelid);

-- Several tables in one statement, and a table dropped with its schema.
CREATE TABLE drop_a (id int);
CREATE TABLE drop_b (id int);
SELECT create_distributed_table('drop_a', 'id', 4), create_distributed_table('drop_b', 'id', 4);
CREATE SCHEMA drop_schema;
CREATE TABLE drop_schema.drop_c (id int);
SELECT create_distributed_table('drop_schema.drop_c', 'id', 4);
SELECT table_name, count(*) AS shards FROM rollup.shards GROUP BY 1 ORDER BY 1;
SELECT * FROM pg_temp.shards_on_workers('drop_c');
DROP TABLE drop_a, drop_b;
DROP SCHEMA drop_schema CASCADE;
SELECT count(*) AS tables FROM rollup.tables;
SELECT count(*) AS shards FROM rollup.shards;
SELECT * FROM pg_temp.shards_on_workers('drop_a');
SELECT * FROM pg_temp.shards_on_workers('drop_b');
SELECT * FROM pg_temp.shards_on_workers('drop_c');

DROP TABLE events_copy;
RESET rollup.next_shard_id;
DROP EXTENSION dblink;
