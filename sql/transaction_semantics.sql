-- Transactions over distributed tables (issue 10): cached plans follow distribution changes,
-- isolation levels are what they say, a transaction reaches a node as one role, and renaming a
-- schema renames it where the shards are.
SET rollup.next_shard_id = 495000;

-- A statement prepared (and a PL/pgSQL plan cached) while the table was local is planned again
-- once it is distributed, and again once it is local again.
CREATE TABLE ts_cached (id int, v int);
INSERT INTO ts_cached SELECT g, g FROM generate_series(1, 100) g;
PREPARE ts_count AS SELECT count(*) FROM ts_cached;
CREATE FUNCTION ts_count_fn() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM ts_cached);
END $$;
EXECUTE ts_count;
SELECT ts_count_fn();
SELECT create_distributed_table('ts_cached', 'id', 4);
EXECUTE ts_count;
SELECT ts_count_fn();
INSERT INTO ts_cached VALUES (101, 101);
SELECT undistribute_table('ts_cached');
EXECUTE ts_count;
SELECT ts_count_fn();
DEALLOCATE ts_count;
DROP FUNCTION ts_count_fn();
DROP TABLE ts_cached;

-- Isolation: REPEATABLE READ keeps the node's snapshot for the whole transaction; SERIALIZABLE is
-- refused rather than silently weakened.
CREATE TABLE ts_iso (id int, v int);
SELECT create_distributed_table('ts_iso', 'id', 4);
INSERT INTO ts_iso SELECT g, 0 FROM generate_series(1, 10) g;
CREATE EXTENSION IF NOT EXISTS dblink;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT sum(v) FROM ts_iso;
-- another session changes the rows and commits
SELECT dblink_exec(format('host=127.0.0.1 port=%s dbname=%s user=postgres', current_setting('port'),
                          current_database()), 'UPDATE ts_iso SET v = 1');
SELECT sum(v) FROM ts_iso;
COMMIT;
SELECT sum(v) FROM ts_iso;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT sum(v) FROM ts_iso;
SELECT dblink_exec(format('host=127.0.0.1 port=%s dbname=%s user=postgres', current_setting('port'),
                          current_database()), 'UPDATE ts_iso SET v = 2');
SELECT sum(v) FROM ts_iso;
COMMIT;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT sum(v) FROM ts_iso;
ROLLBACK;

-- lock_timeout reaches the nodes: a write blocked on a node fails after lock_timeout (55P03), as on
-- a local table, instead of waiting until statement_timeout.
SELECT dblink_connect('ts_holder', format('host=127.0.0.1 port=%s dbname=%s user=postgres',
                                          current_setting('port'), current_database()));
SELECT dblink_exec('ts_holder', 'BEGIN');
SELECT dblink_exec('ts_holder', 'UPDATE ts_iso SET v = 5 WHERE id = 1');
SET lock_timeout = '200ms';
SET statement_timeout = '20s';
\set VERBOSITY terse
UPDATE ts_iso SET v = 6 WHERE id = 1;
\set VERBOSITY default
RESET lock_timeout;
RESET statement_timeout;
SELECT dblink_exec('ts_holder', 'ROLLBACK');
SELECT dblink_disconnect('ts_holder');

-- A statement that fails on a node undoes the SETs sent with it: the settings are sent again, so
-- later statements still compute in the session's time zone.
CREATE TABLE ts_tz (id int, v int, ts timestamptz);
SELECT create_distributed_table('ts_tz', 'id', 4);
INSERT INTO ts_tz SELECT g, g, timestamptz '2024-03-10 00:00+00' + g * interval '37 minutes' FROM generate_series(1, 100) g;
CREATE TABLE ts_tz_local AS SELECT * FROM ts_tz;
SELECT count(*) FROM ts_tz;
SET TimeZone = 'America/New_York';
\set VERBOSITY terse
UPDATE ts_tz SET v = 1 / (v - 1) WHERE id = 1;
\set VERBOSITY default
SELECT (SELECT sum(date_part('hour', ts)) FROM ts_tz) = (SELECT sum(date_part('hour', ts)) FROM ts_tz_local) AS same_hours;
RESET TimeZone;
-- A transaction that read through several connections used to wait forever for its own locks
-- when it then changed the table: inside a transaction block a node has one connection.
SET statement_timeout = '20s';
BEGIN;
SELECT count(*) FROM ts_tz;
ALTER TABLE ts_tz ADD COLUMN extra int;
TRUNCATE ts_tz_local;
COMMIT;
BEGIN;
SELECT count(*) FROM ts_tz;
TRUNCATE ts_tz;
COMMIT;
RESET statement_timeout;
SELECT count(*) FROM ts_tz;
DROP TABLE ts_tz, ts_tz_local;
-- undistribute_table keeps identity values (GENERATED ALWAYS too).
CREATE TABLE ts_ident (id int GENERATED ALWAYS AS IDENTITY, v int);
SELECT create_distributed_table('ts_ident', 'id', 4);
INSERT INTO ts_ident (v) SELECT generate_series(1, 10);
SELECT undistribute_table('ts_ident');
SELECT count(*), sum(id) FROM ts_ident;
DROP TABLE ts_ident;

-- One role per node within a transaction: after SET ROLE, a second connection as another role
-- would not see the first one's uncommitted rows (and could wait on its locks forever).
CREATE ROLE ts_other LOGIN;
SELECT dblink_exec(format('host=127.0.0.1 port=%s dbname=%s user=postgres', current_setting('regress.worker_' || i || '_port'),
                          current_database()), 'CREATE ROLE ts_other LOGIN')
  FROM generate_series(1, 2) i;
GRANT ALL ON ts_iso TO ts_other;
BEGIN;
UPDATE ts_iso SET v = 3 WHERE id = 1;
SET LOCAL ROLE ts_other;
SELECT v FROM ts_iso WHERE id = 1;
ROLLBACK;
-- outside a transaction block, roles may change between statements
SET ROLE ts_other;
SELECT count(*) FROM ts_iso;
RESET ROLE;
SELECT count(*) FROM ts_iso;
DROP TABLE ts_iso;
DROP ROLE ts_other;
SELECT dblink_exec(format('host=127.0.0.1 port=%s dbname=%s user=postgres', current_setting('regress.worker_' || i || '_port'),
                          current_database()), 'DROP ROLE ts_other')
  FROM generate_series(1, 2) i;

-- ALTER SCHEMA ... RENAME of a schema with a distributed table: the shards follow.
CREATE SCHEMA ts_old;
CREATE TABLE ts_old.t (id int, v text);
SELECT create_distributed_table('ts_old.t', 'id', 4);
INSERT INTO ts_old.t SELECT g, 'v' || g FROM generate_series(1, 20) g;
ALTER SCHEMA ts_old RENAME TO ts_new;
SELECT count(*), min(v) FROM ts_new.t;
INSERT INTO ts_new.t VALUES (21, 'v21');
SELECT count(*) FROM ts_new.t WHERE id = 21;
SELECT DISTINCT split_part(shard_name, '.', 1) AS shard_schema FROM rollup.shards WHERE table_name = 'ts_new.t'::regclass;
DROP SCHEMA ts_new CASCADE;
DROP EXTENSION dblink;
