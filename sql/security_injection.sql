-- Attack (issue 9, defect 2): SQL text hidden in identifiers and string literals that rollup copies
-- into the statements it sends to the nodes. Statements reach the nodes as the user who runs them,
-- so an ordinary role (sec_inj) that names its columns and indexes with SQL waits for a superuser
-- to touch its table: an INSERT ... ON CONFLICT (the statement is cut at the first " ON CONFLICT"
-- in its text), create_distributed_table or CREATE INDEX (index definitions are cut at the first
-- " USING "). Each payload tries ALTER ROLE sec_inj SUPERUSER on the workers; the test asks every
-- node afterwards whether sec_inj became superuser (it must not have) and whether the statement did
-- what it says. A string literal holding the text of rollup's shard alias marker ("ev
-- rollup_rte_1") must be stored and read back as written, and must not redirect the statement.
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
CREATE FUNCTION pg_temp.worker(n int) RETURNS text LANGUAGE sql AS $$
    SELECT format('host=127.0.0.1 port=%s dbname=%s user=postgres',
                  current_setting('regress.worker_' || n || '_port'), current_database())
$$;
CREATE FUNCTION pg_temp.on_workers(sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR n IN 1..2 LOOP
        PERFORM dblink_exec(pg_temp.worker(n), sql);
    END LOOP;
END $$;
SET client_min_messages TO warning;
CREATE ROLE sec_inj LOGIN;
SELECT pg_temp.on_workers('CREATE ROLE sec_inj LOGIN');
CREATE SCHEMA sec_inj AUTHORIZATION sec_inj;
SELECT pg_temp.on_workers('CREATE SCHEMA sec_inj AUTHORIZATION sec_inj');
RESET client_min_messages;

-- As superuser: is sec_inj a superuser on any node? Whatever it gained is taken back afterwards, so
-- that each attack is judged on its own. The secure answer is f on every node.
CREATE FUNCTION pg_temp.attacker_is_superuser(OUT node text, OUT is_superuser boolean)
RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
    node := 'coordinator';
    SELECT r.rolsuper INTO is_superuser FROM pg_roles r WHERE r.rolname = 'sec_inj';
    RETURN NEXT;
    FOR n IN 1..2 LOOP
        node := 'worker_' || n;
        SELECT x.s INTO is_superuser
          FROM dblink(pg_temp.worker(n), 'SELECT rolsuper FROM pg_roles WHERE rolname = ''sec_inj''') AS x(s boolean);
        RETURN NEXT;
    END LOOP;
    ALTER ROLE sec_inj NOSUPERUSER;
    PERFORM pg_temp.on_workers('ALTER ROLE sec_inj NOSUPERUSER');
END $$;
-- As superuser: the indexes of the shards of sec_inj.ix on each worker (how many, and how many are
-- on the column their name says).
CREATE FUNCTION pg_temp.shard_indexes(OUT node text, OUT indexes bigint, OUT on_named_column bigint)
RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
    FOR n IN 1..2 LOOP
        node := 'worker_' || n;
        SELECT x.c, x.ok INTO indexes, on_named_column
          FROM dblink(pg_temp.worker(n), $q$
                 SELECT count(*), count(*) FILTER (WHERE (indexname LIKE 'i %' AND indexdef LIKE '%USING btree (id)')
                                                     OR (indexname LIKE 'j %' AND indexdef LIKE '%USING btree (v)'))
                   FROM pg_indexes WHERE schemaname = 'sec_inj' AND tablename LIKE 'ix\_%'$q$)
               AS x(c bigint, ok bigint);
        RETURN NEXT;
    END LOOP;
END $$;

-- (a) Column names that carry an ON CONFLICT clause and SQL after it. The rows of an INSERT ...
-- ON CONFLICT are sent as INSERT INTO <shard> (<columns>) VALUES (...) followed by the clause cut
-- out of the deparsed statement at the first " ON CONFLICT", which here is inside a column name.
SET ROLE sec_inj;
CREATE TABLE sec_inj.oc (id int PRIMARY KEY,
    " ON CONFLICT DO NOTHING;ALTER ROLE sec_inj SUPERUSER;SELECT '" int,
    "';CREATE TEMP TABLE x(a int,b int,c int);INSERT INTO x--" int);
SELECT create_distributed_table('sec_inj.oc', 'id', shard_count => 4);
RESET ROLE;
-- a superuser inserts into the table, with ON CONFLICT
INSERT INTO sec_inj.oc VALUES (1, 2, 3) ON CONFLICT DO NOTHING;
INSERT INTO sec_inj.oc VALUES (1, 20, 30), (5, 6, 7) ON CONFLICT DO NOTHING;
SELECT * FROM pg_temp.attacker_is_superuser();
-- exactly the rows inserted: (1, 2, 3) and (5, 6, 7)
SELECT id, count(*) OVER () AS total_rows FROM sec_inj.oc ORDER BY id;

-- (b) An index whose name holds " USING " and SQL after it. The shards' indexes are made from the
-- index definition cut at the first " USING ", which here is inside the index name.
SET ROLE sec_inj;
CREATE TABLE sec_inj.ix (id int, v int);
CREATE INDEX "i USING btree (id);ALTER ROLE sec_inj SUPERUSER;--" ON sec_inj.ix (id);
INSERT INTO sec_inj.ix SELECT g, g FROM generate_series(1, 10) g;
RESET ROLE;
-- a superuser distributes sec_inj's table (one shard per worker)
SELECT create_distributed_table('sec_inj.ix', 'id', shard_count => 2);
SELECT * FROM pg_temp.attacker_is_superuser();
SELECT count(*) AS rows_in_ix FROM sec_inj.ix;
SELECT * FROM pg_temp.shard_indexes();
-- a superuser creates an index with such a name on the distributed table
CREATE INDEX "j USING btree (v);ALTER ROLE sec_inj SUPERUSER;--" ON sec_inj.ix (v);
SELECT * FROM pg_temp.attacker_is_superuser();
SELECT * FROM pg_temp.shard_indexes();

-- (c) String literals that hold the text of the shard alias marker. The table name followed by its
-- marker is replaced by the shard name followed by the marker, at its first occurrence in the
-- statement text: a literal written before the table reference must stay as written, and the
-- statement must still reach the shard. A local twin gets the same statements.
SET ROLE sec_inj;
CREATE TABLE sec_inj.ev (id int, note text);
CREATE TABLE sec_inj.ev_local (id int, note text);
INSERT INTO sec_inj.ev SELECT g, 'n' || g FROM generate_series(1, 6) g;
SELECT create_distributed_table('sec_inj.ev', 'id', shard_count => 4);
INSERT INTO sec_inj.ev_local SELECT g, 'n' || g FROM generate_series(1, 6) g;
UPDATE sec_inj.ev SET note = 'ev rollup_rte_1' WHERE id = 1;
UPDATE sec_inj.ev_local SET note = 'ev rollup_rte_1' WHERE id = 1;
UPDATE sec_inj.ev SET note = 'sec_inj.ev rollup_rte_1' WHERE id IN (2, 3);
UPDATE sec_inj.ev_local SET note = 'sec_inj.ev rollup_rte_1' WHERE id IN (2, 3);
UPDATE sec_inj.ev SET note = 'sec_inj.ev AS rollup_rte_1' WHERE id = 4;
UPDATE sec_inj.ev_local SET note = 'sec_inj.ev AS rollup_rte_1' WHERE id = 4;
SELECT id, note FROM sec_inj.ev ORDER BY id;
SELECT 'ev rollup_rte_1' AS lit, id FROM sec_inj.ev WHERE id <= 2 ORDER BY id;
SELECT id FROM sec_inj.ev WHERE note = 'sec_inj.ev rollup_rte_1' ORDER BY id;
INSERT INTO sec_inj.ev SELECT id + 100, 'ev rollup_rte_1' FROM sec_inj.ev WHERE id <= 2;
INSERT INTO sec_inj.ev_local SELECT id + 100, 'ev rollup_rte_1' FROM sec_inj.ev_local WHERE id <= 2;
DELETE FROM sec_inj.ev WHERE note = 'sec_inj.ev rollup_rte_1';
DELETE FROM sec_inj.ev_local WHERE note = 'sec_inj.ev rollup_rte_1';
DELETE FROM sec_inj.ev WHERE id = 5 AND note <> 'ev rollup_rte_1';
DELETE FROM sec_inj.ev_local WHERE id = 5 AND note <> 'ev rollup_rte_1';
SELECT id, note FROM sec_inj.ev ORDER BY id;
-- rows that differ from the local twin, either way: none
(SELECT 'only distributed' AS side, * FROM sec_inj.ev EXCEPT SELECT 'only distributed', * FROM sec_inj.ev_local)
UNION ALL
(SELECT 'only local', * FROM sec_inj.ev_local EXCEPT SELECT 'only local', * FROM sec_inj.ev)
ORDER BY 1, 2;
RESET ROLE;

-- The server is still up and sec_inj holds nothing on any node.
SELECT 1 AS still_up;
SELECT * FROM pg_temp.attacker_is_superuser();

SET client_min_messages TO warning;
DROP SCHEMA sec_inj CASCADE;
SELECT pg_temp.on_workers('DROP SCHEMA sec_inj CASCADE');
SELECT pg_temp.on_workers('DROP ROLE sec_inj');
DROP ROLE sec_inj;
RESET client_min_messages;
DROP EXTENSION dblink;
