-- Attack (issue 9, defect 3): row-level security and WITH CHECK OPTION on a distributed table. A
-- role that is not the table's owner (sec_rls_user) may see and change only its own rows, and may
-- write only rows that pass the policy's WITH CHECK; a view WITH CHECK OPTION admits only rows it
-- shows. The role tries to read, change, delete and insert other rows of a distributed table. Every
-- statement also runs on a local table with the same rows and policies, and the test prints both
-- outcomes side by side (rows seen, rows changed, or "error" and its SQLSTATE): they must be the
-- same, as must the tables' contents afterwards. Last, the role tries to read and change the shards
-- directly on the workers, where it holds the privileges granted on the distributed table.
\i sql/helpers/on_workers.sql
SET client_min_messages TO warning;
CREATE ROLE sec_rls_owner LOGIN;
CREATE ROLE sec_rls_user LOGIN;
SELECT pg_temp.on_workers('CREATE ROLE sec_rls_owner LOGIN');
SELECT pg_temp.on_workers('CREATE ROLE sec_rls_user LOGIN');
CREATE SCHEMA sec_rls AUTHORIZATION sec_rls_owner;
GRANT USAGE ON SCHEMA sec_rls TO sec_rls_user;
SELECT pg_temp.on_workers('CREATE SCHEMA sec_rls AUTHORIZATION sec_rls_owner; GRANT USAGE ON SCHEMA sec_rls TO sec_rls_user');
RESET client_min_messages;

-- Runs a statement and says what happened: a SELECT's single value, a write's row count, or
-- "error" (which error is not compared: a policy violation here may be reported differently than
-- by a local table, but it must be an error in both).
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    r text;
BEGIN
    IF sql ~* '^\s*select' THEN
        EXECUTE sql INTO r;
        RETURN coalesce(r, '<null>');
    END IF;
    EXECUTE sql;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n || ' rows';
EXCEPTION WHEN OTHERS THEN
    RETURN 'error';
END $$;
-- The statement (with %1$s for the table, %2$s for the table again) on the local table, then on
-- the distributed one.
CREATE FUNCTION pg_temp.both(stmt text, loc text DEFAULT 'sec_rls.loc', dist text DEFAULT 'sec_rls.dist')
RETURNS TABLE (local_table text, distributed_table text, same boolean) LANGUAGE plpgsql AS $$
BEGIN
    local_table := pg_temp.try(format(stmt, loc, loc));
    distributed_table := pg_temp.try(format(stmt, dist, dist));
    same := local_table IS NOT DISTINCT FROM distributed_table;
    RETURN NEXT;
END $$;
-- As superuser: rows that differ between the local and the distributed table, either way.
CREATE FUNCTION pg_temp.differences(loc text DEFAULT 'sec_rls.loc', dist text DEFAULT 'sec_rls.dist')
RETURNS TABLE (side text, row_text text) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        '(SELECT %3$L, t::text FROM %1$s t EXCEPT ALL SELECT %3$L, t::text FROM %2$s t) UNION ALL '
        '(SELECT %4$L, t::text FROM %2$s t EXCEPT ALL SELECT %4$L, t::text FROM %1$s t) ORDER BY 1, 2',
        loc, dist, 'only local', 'only distributed');
END $$;

SET ROLE sec_rls_owner;
CREATE TABLE sec_rls.loc (id int PRIMARY KEY, owner_name text NOT NULL, v int);
CREATE TABLE sec_rls.dist (id int PRIMARY KEY, owner_name text NOT NULL, v int);
-- even ids belong to sec_rls_user, odd ones to someone else
INSERT INTO sec_rls.loc SELECT g, CASE WHEN g % 2 = 0 THEN 'sec_rls_user' ELSE 'other' END, g
  FROM generate_series(1, 10) g;
INSERT INTO sec_rls.dist SELECT * FROM sec_rls.loc;
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sec_rls.loc', 'sec_rls.dist'] LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY own_rows ON %s USING (owner_name = current_user) '
                       'WITH CHECK (owner_name = current_user AND v < 100)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO sec_rls_user', t);
    END LOOP;
END $$;
SELECT create_distributed_table('sec_rls.dist', 'id', shard_count => 4);
RESET ROLE;

SET ROLE sec_rls_user;
-- reads: only its own rows
SELECT * FROM pg_temp.both($$SELECT string_agg(id::text, ',' ORDER BY id) FROM %s$$);
SELECT * FROM pg_temp.both($$SELECT count(*) FROM %s WHERE id = 3$$);
SELECT * FROM pg_temp.both($$SELECT sum(v) FROM %s WHERE owner_name <> 'sec_rls_user'$$);
-- UPDATE and DELETE reach only its own rows
SELECT * FROM pg_temp.both($$UPDATE %s SET v = v + 1 WHERE id <= 4$$);
SELECT * FROM pg_temp.both($$UPDATE %s SET v = 0 WHERE id = 5$$);
SELECT * FROM pg_temp.both($$DELETE FROM %s WHERE id IN (1, 6)$$);
-- the new version of a row must pass WITH CHECK
SELECT * FROM pg_temp.both($$UPDATE %s SET v = v + 1000 WHERE id = 2$$);
SELECT * FROM pg_temp.both($$UPDATE %s SET owner_name = 'other' WHERE id = 4$$);
-- INSERT: only rows that pass WITH CHECK
SELECT * FROM pg_temp.both($$INSERT INTO %s VALUES (101, 'other', 1)$$);
SELECT * FROM pg_temp.both($$INSERT INTO %s VALUES (102, 'sec_rls_user', 500)$$);
SELECT * FROM pg_temp.both($$INSERT INTO %s VALUES (103, 'sec_rls_user', 5)$$);
SELECT * FROM pg_temp.both($$INSERT INTO %s VALUES (104, 'sec_rls_user', 6), (105, 'other', 7)$$);
-- INSERT ... SELECT: the rows it reads are filtered, the rows it writes are checked
SELECT * FROM pg_temp.both($$INSERT INTO %s SELECT 106, 'other', 1$$);
SELECT * FROM pg_temp.both($$INSERT INTO %s SELECT id + 200, owner_name, v FROM %s WHERE id < 20$$);
-- INSERT ... ON CONFLICT DO UPDATE on someone else's row
SELECT * FROM pg_temp.both($$INSERT INTO %s VALUES (3, 'sec_rls_user', 7) ON CONFLICT (id) DO UPDATE SET v = 7$$);
SELECT * FROM pg_temp.both($$INSERT INTO %s VALUES (3, 'sec_rls_user', 7) ON CONFLICT (id) DO NOTHING$$);
-- what it sees now
SELECT * FROM pg_temp.both($$SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM %s$$);
-- COPY FROM with row-level security (refused by PostgreSQL for a local table; only the SQLSTATE
-- is printed)
\set VERBOSITY sqlstate
COPY sec_rls.loc FROM STDIN;
107	other	1
\.
COPY sec_rls.dist FROM STDIN;
107	other	1
\.
\set VERBOSITY default
RESET ROLE;
-- all rows, as superuser: the same in both tables
SELECT * FROM pg_temp.differences();
SELECT count(*) AS rows_of_others FROM sec_rls.dist WHERE owner_name <> 'sec_rls_user';

-- A view WITH CHECK OPTION over each table (no row-level security here): rows written through it
-- must be rows it shows.
SET ROLE sec_rls_owner;
CREATE TABLE sec_rls.vloc (id int PRIMARY KEY, v int);
CREATE TABLE sec_rls.vdist (id int PRIMARY KEY, v int);
SELECT create_distributed_table('sec_rls.vdist', 'id', shard_count => 4);
INSERT INTO sec_rls.vloc VALUES (1, 1), (2, 60);
INSERT INTO sec_rls.vdist VALUES (1, 1), (2, 60);
CREATE VIEW sec_rls.vloc_small AS SELECT * FROM sec_rls.vloc WHERE v < 50 WITH CHECK OPTION;
CREATE VIEW sec_rls.vdist_small AS SELECT * FROM sec_rls.vdist WHERE v < 50 WITH CHECK OPTION;
SELECT * FROM pg_temp.both($$INSERT INTO %s VALUES (3, 70)$$, 'sec_rls.vloc_small', 'sec_rls.vdist_small');
SELECT * FROM pg_temp.both($$INSERT INTO %s VALUES (4, 10)$$, 'sec_rls.vloc_small', 'sec_rls.vdist_small');
SELECT * FROM pg_temp.both($$INSERT INTO %s SELECT 5, 90$$, 'sec_rls.vloc_small', 'sec_rls.vdist_small');
SELECT * FROM pg_temp.both($$INSERT INTO %s VALUES (1, 80) ON CONFLICT (id) DO UPDATE SET v = 80$$,
                           'sec_rls.vloc_small', 'sec_rls.vdist_small');
SELECT * FROM pg_temp.both($$UPDATE %s SET v = 80 WHERE id = 1$$, 'sec_rls.vloc_small', 'sec_rls.vdist_small');
SELECT * FROM pg_temp.both($$SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM %s$$,
                           'sec_rls.vloc', 'sec_rls.vdist');
RESET ROLE;
SELECT * FROM pg_temp.differences('sec_rls.vloc', 'sec_rls.vdist');

-- Straight on the workers, as sec_rls_user (which holds SELECT, INSERT, UPDATE and DELETE on the
-- distributed table): no shard may show or change a row of someone else. An error counts as
-- nothing read or changed.
CREATE FUNCTION pg_temp.on_shards_as_user(sql text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    s record;
    n bigint;
    total bigint := 0;
BEGIN
    FOR s IN SELECT port, shard_name FROM rollup.shards WHERE table_name = 'sec_rls.dist'::regclass LOOP
        BEGIN
            SELECT x.n INTO n
              FROM dblink(format('host=127.0.0.1 port=%s dbname=%s user=sec_rls_user', s.port, current_database()),
                          format(sql, s.shard_name)) AS x(n bigint);
        EXCEPTION WHEN OTHERS THEN
            n := 0;
        END;
        total := total + coalesce(n, 0);
    END LOOP;
    RETURN total;
END $$;
SELECT pg_temp.on_shards_as_user($$SELECT count(*) FROM %s WHERE owner_name <> 'sec_rls_user'$$)
       AS rows_of_others_read_on_workers;
SELECT pg_temp.on_shards_as_user($$WITH u AS (UPDATE %s SET v = v WHERE owner_name <> 'sec_rls_user' RETURNING 1)
                                   SELECT count(*) FROM u$$)
       AS rows_of_others_changed_on_workers;
SELECT pg_temp.on_shards_as_user($$WITH i AS (INSERT INTO %s VALUES (-1, 'other', 1000) RETURNING 1)
                                   SELECT count(*) FROM i$$)
       AS unchecked_rows_inserted_on_workers;
SELECT count(*) AS rows_of_others FROM sec_rls.dist WHERE owner_name <> 'sec_rls_user';

SELECT 1 AS still_up;

SET client_min_messages TO warning;
DROP SCHEMA sec_rls CASCADE;
SELECT pg_temp.on_workers('DROP SCHEMA sec_rls CASCADE');
SELECT pg_temp.on_workers('DROP ROLE sec_rls_owner');
SELECT pg_temp.on_workers('DROP ROLE sec_rls_user');
DROP ROLE sec_rls_owner;
DROP ROLE sec_rls_user;
RESET client_min_messages;
DROP EXTENSION dblink;
