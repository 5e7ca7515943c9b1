--
-- create_distributed_table refuses bad input with a clear error and a proper SQLSTATE, and a
-- refused or failed call changes nothing anywhere: no metadata, no shard on any node, the table and
-- its rows as they were. (Messages that would show a port are printed without their CONTEXT.)
--
-- pg_temp.leftovers(name) says what exists for a table name: its metadata rows on the coordinator,
-- the tables named <name>_<number> on each worker, and prepared transactions left on the workers.
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
CREATE FUNCTION pg_temp.worker(n int) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT format('host=127.0.0.1 port=%s dbname=%s user=postgres',
                  current_setting('regress.worker_' || n || '_port'), current_database())
$$;
CREATE FUNCTION pg_temp.leftovers(name text) RETURNS text LANGUAGE sql AS $$
    SELECT format('metadata: %s, shards on worker_1: %s, on worker_2: %s, prepared xacts: %s',
        (SELECT count(*) FROM rollup.dist_table WHERE logicalrelid::text = name)
          + (SELECT count(*) FROM rollup.shard WHERE logicalrelid::text = name),
        (SELECT n FROM dblink(pg_temp.worker(1), format(
             'SELECT count(*) FROM pg_class WHERE relname ~ %L', '^' || name || '_[0-9]+$')) AS t(n bigint)),
        (SELECT n FROM dblink(pg_temp.worker(2), format(
             'SELECT count(*) FROM pg_class WHERE relname ~ %L', '^' || name || '_[0-9]+$')) AS t(n bigint)),
        (SELECT sum(n) FROM generate_series(1, 2) AS w,
             LATERAL dblink(pg_temp.worker(w), 'SELECT count(*) FROM pg_prepared_xacts') AS t(n bigint)))
$$;
SET rollup.next_shard_id TO 200000;
CREATE TABLE good (id int, v text);
INSERT INTO good VALUES (1, 'one'), (2, 'two');

-- Unknown table (the regclass argument): 42P01.
SELECT create_distributed_table('no_such_table', 'id');
\echo :LAST_ERROR_SQLSTATE

-- Unknown column: 42703.
SELECT create_distributed_table('good', 'no_such_column');
\echo :LAST_ERROR_SQLSTATE
-- Column names are taken as they are (not folded to lower case): 'ID' is not "id".
SELECT create_distributed_table('good', 'ID');
\echo :LAST_ERROR_SQLSTATE
-- A system column: 22023.
SELECT create_distributed_table('good', 'ctid');
\echo :LAST_ERROR_SQLSTATE

-- A type without a hash operator class cannot be hashed: 42883.
CREATE TABLE bad_type (p point, id int);
SELECT create_distributed_table('bad_type', 'p');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.leftovers('bad_type');

-- NULL arguments: table and column are required (22023); a NULL shard_count means the default,
-- a NULL colocate_with means 'default' (shown in create_distributed_table.sql).
SELECT create_distributed_table(NULL, 'id');
\echo :LAST_ERROR_SQLSTATE
SELECT create_distributed_table('good', NULL);
\echo :LAST_ERROR_SQLSTATE

-- shard_count out of range [1, 64000]: 22023; the setting has the same bounds.
SELECT create_distributed_table('good', 'id', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT create_distributed_table('good', 'id', 64001);
\echo :LAST_ERROR_SQLSTATE
SELECT create_distributed_table('good', 'id', -1);
\echo :LAST_ERROR_SQLSTATE
SET rollup.shard_count TO 0;
\echo :LAST_ERROR_SQLSTATE
SET rollup.shard_count TO 64001;
\echo :LAST_ERROR_SQLSTATE
SHOW rollup.shard_count;
SELECT pg_temp.leftovers('good');

-- Not a table: a view, a materialized view, a sequence (42809).
CREATE VIEW a_view AS SELECT 1 AS id;
SELECT create_distributed_table('a_view', 'id');
\echo :LAST_ERROR_SQLSTATE
CREATE MATERIALIZED VIEW a_matview AS SELECT 1 AS id;
SELECT create_distributed_table('a_matview', 'id');
\echo :LAST_ERROR_SQLSTATE
CREATE SEQUENCE a_sequence;
SELECT create_distributed_table('a_sequence', 'last_value');
\echo :LAST_ERROR_SQLSTATE
DROP VIEW a_view;
DROP MATERIALIZED VIEW a_matview;
DROP SEQUENCE a_sequence;

-- Temporary tables: their rows are private to the session, shards are reached from other sessions
-- (0A000).
CREATE TEMP TABLE a_temp_table (id int);
SELECT create_distributed_table('a_temp_table', 'id');
\echo :LAST_ERROR_SQLSTATE

-- Partitioned tables, their partitions, and inheritance: not supported (0A000).
CREATE TABLE parted (id int, v text) PARTITION BY HASH (id);
CREATE TABLE parted_0 PARTITION OF parted FOR VALUES WITH (MODULUS 2, REMAINDER 0);
SELECT create_distributed_table('parted', 'id');
\echo :LAST_ERROR_SQLSTATE
SELECT create_distributed_table('parted_0', 'id');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE parent (id int);
CREATE TABLE child () INHERITS (parent);
SELECT create_distributed_table('parent', 'id');
\echo :LAST_ERROR_SQLSTATE
SELECT create_distributed_table('child', 'id');
\echo :LAST_ERROR_SQLSTATE
DROP TABLE parted, parent CASCADE;

-- Generated columns: not supported (0A000).
CREATE TABLE generated (id int, twice int GENERATED ALWAYS AS (id * 2) STORED);
SELECT create_distributed_table('generated', 'id');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.leftovers('generated');


-- Uniqueness can only be enforced shard by shard: a primary key, unique constraint or unique index
-- must include the distribution column (42P16).
CREATE TABLE pk_elsewhere (id int, site_id int PRIMARY KEY);
SELECT create_distributed_table('pk_elsewhere', 'id');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE unique_elsewhere (id int, email text UNIQUE);
SELECT create_distributed_table('unique_elsewhere', 'id');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE unique_index_elsewhere (id int, email text);
CREATE UNIQUE INDEX ON unique_index_elsewhere (email);
SELECT create_distributed_table('unique_index_elsewhere', 'id');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.leftovers('unique_index_elsewhere');
-- ... while a key that includes it is fine (and is created on every shard).
SELECT create_distributed_table('pk_elsewhere', 'site_id', 2);
SELECT t.* FROM dblink(pg_temp.worker(1), $$
    SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'pk_elsewhere_200000'::regclass
$$) AS t(conname name, definition text);

-- Foreign keys, from the table or to it: not supported (0A000).
CREATE TABLE referenced (id int PRIMARY KEY);
CREATE TABLE referencing (id int, ref int REFERENCES referenced (id));
SELECT create_distributed_table('referencing', 'id');
\echo :LAST_ERROR_SQLSTATE
SELECT create_distributed_table('referenced', 'id');
\echo :LAST_ERROR_SQLSTATE
DROP TABLE referencing, referenced;

-- Distributing a table twice: 42710.
SELECT create_distributed_table('good', 'id');
SELECT create_distributed_table('good', 'id');
\echo :LAST_ERROR_SQLSTATE
SELECT create_distributed_table('good', 'v');
\echo :LAST_ERROR_SQLSTATE

-- colocate_with: an unknown table (42P01), a table that is not distributed (22023), a different
-- distribution column type (42804), a different shard count given explicitly (22023).
CREATE TABLE colo (id int, big bigint);
SELECT create_distributed_table('colo', 'id', colocate_with => 'no_such_table');
\echo :LAST_ERROR_SQLSTATE
SELECT create_distributed_table('colo', 'id', colocate_with => 'bad_type');
\echo :LAST_ERROR_SQLSTATE
SELECT create_distributed_table('colo', 'big', colocate_with => 'good');
\echo :LAST_ERROR_SQLSTATE
SELECT create_distributed_table('colo', 'id', 8, colocate_with => 'good');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.leftovers('colo');
DROP TABLE colo;

-- Only the table's owner may distribute it (42501), even with every privilege on it.
CREATE ROLE cdt_user;
CREATE TABLE owned_by_postgres (id int);
GRANT ALL ON owned_by_postgres TO cdt_user;
SET ROLE cdt_user;
SELECT create_distributed_table('owned_by_postgres', 'id');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT pg_temp.leftovers('owned_by_postgres');
DROP TABLE owned_by_postgres;
DROP ROLE cdt_user;

--
-- Atomicity: failures once shards are being created or rows moved leave nothing behind on any
-- node, and the same session can fix the cause and try again.
--
\set SHOW_CONTEXT never

-- 1. A CHECK constraint that calls a function which exists on the coordinator only: creating the
--    shards fails on the workers (42883).
CREATE FUNCTION is_positive(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 > 0';
CREATE TABLE checked (id int CHECK (is_positive(id)));
INSERT INTO checked VALUES (1), (2), (3);
SELECT create_distributed_table('checked', 'id', 4);
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.leftovers('checked');
SELECT count(*) AS rows_still_local FROM checked;
SELECT rollup.is_distributed('checked');
DROP TABLE checked;
DROP FUNCTION is_positive(int);

-- 2. A failure on one worker only, while the other one has already created its shards: a table
--    with the name of one of the shards is put on worker_2 first (42P07 there).
SELECT t.* FROM dblink(pg_temp.worker(2), 'CREATE TABLE public.clash_200103 (x int)') AS t(status text);
SET rollup.next_shard_id TO 200100;
CREATE TABLE clash (id int, v text);
INSERT INTO clash SELECT i, 'row ' || i FROM generate_series(1, 100) AS i;
SELECT create_distributed_table('clash', 'id', 4);
\echo :LAST_ERROR_SQLSTATE
-- worker_1 kept nothing; worker_2 only has the table put there on purpose.
SELECT pg_temp.leftovers('clash');
SELECT count(*) AS rows_still_local FROM clash;
SELECT t.* FROM dblink(pg_temp.worker(2), 'DROP TABLE public.clash_200103') AS t(status text);
-- Once the cause is gone, the same call works (this session did not keep a stale view of it).
SELECT rollup.is_distributed('clash');
SELECT create_distributed_table('clash', 'id', 4);
SELECT sum(row_count) AS rows_in_shards FROM rollup.shard_stats('clash');
DROP TABLE clash;

-- 3. A row the shards reject while rows are being moved: a NOT VALID check constraint the table's
--    old rows break (23514). Shards were created and rows were sent by then: all undone.
SET rollup.next_shard_id TO 200200;
CREATE TABLE violating (id int);
INSERT INTO violating SELECT generate_series(-1, 100);
ALTER TABLE violating ADD CONSTRAINT id_not_negative CHECK (id >= 0) NOT VALID;
SELECT create_distributed_table('violating', 'id', 4);
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.leftovers('violating');
SELECT count(*) AS rows_still_local FROM violating;
DELETE FROM violating WHERE id < 0;
SELECT create_distributed_table('violating', 'id', 4);
SELECT sum(row_count) AS rows_in_shards FROM rollup.shard_stats('violating');
DROP TABLE violating;

-- 4. A row whose distribution column is NULL cannot be placed in any shard (23502).
SET rollup.next_shard_id TO 200300;
CREATE TABLE null_key (id int, v text);
INSERT INTO null_key VALUES (1, 'a'), (NULL, 'b'), (3, 'c');
SELECT create_distributed_table('null_key', 'id', 4);
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.leftovers('null_key');
SELECT count(*) AS rows_still_local FROM null_key;
DROP TABLE null_key;

-- 5. A successful call inside a transaction that is rolled back: nothing stays either.
SET rollup.next_shard_id TO 200400;
CREATE TABLE rolled_back (id int);
INSERT INTO rolled_back SELECT generate_series(1, 10);
BEGIN;
SELECT create_distributed_table('rolled_back', 'id', 4);
-- (the shards exist, uncommitted: other sessions, like dblink's, do not see them yet)
SELECT pg_temp.leftovers('rolled_back');
ROLLBACK;
SELECT pg_temp.leftovers('rolled_back');
SELECT count(*) AS rows_still_local, rollup.is_distributed('rolled_back') FROM rolled_back;
DROP TABLE rolled_back;
\set SHOW_CONTEXT errors

-- Triggers would never fire (rows go to the shards): refused before (0A000) and after distribution.
CREATE TABLE with_trigger (id int, v text);
CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER noop BEFORE INSERT ON with_trigger FOR EACH ROW EXECUTE FUNCTION pg_temp.noop();
SELECT create_distributed_table('with_trigger', 'id');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.leftovers('with_trigger');
DROP TRIGGER noop ON with_trigger;
SELECT create_distributed_table('with_trigger', 'id', shard_count => 2);
CREATE TRIGGER noop BEFORE INSERT ON with_trigger FOR EACH ROW EXECUTE FUNCTION pg_temp.noop();
\echo :LAST_ERROR_SQLSTATE
DROP TABLE with_trigger;

-- Nothing else was left behind: no prepared transaction waits on any node, so recovery has
-- nothing to resolve, and it forgets the records of the two-phase commits that went through.
DROP TABLE good, bad_type, generated, pk_elsewhere, unique_elsewhere, unique_index_elsewhere,
           a_temp_table;
SELECT count(*) AS tables FROM rollup.tables;
SELECT rollup.recover_prepared_transactions() AS resolved;
SELECT count(*) AS prepared_xact_records FROM rollup.prepared_xact;
RESET rollup.next_shard_id;
DROP EXTENSION dblink;
