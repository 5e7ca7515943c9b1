-- Attacks (issue 9, defects 5, 6 and 7):
--  (5) schemas whose names need quoting ("sec a b", "SecUpper") must work like any other: the
--      statements rollup generates for their shards must quote them, not break on them;
--  (6) an ordinary role prepares, on a worker, a transaction whose gid looks like rollup's but holds
--      a single quote or no transaction id: two-phase commit recovery must still work and must leave
--      that transaction alone;
--  (7) ownership: the shards of a table belong to the table's owner (who can then use the table it
--      owns), REASSIGN OWNED and DROP OWNED reach them; a role that does not own a table cannot make
--      create_distributed_table lock it (and so block its writers); rollup.node_conninfo cannot
--      replace the role or database node sessions connect as.
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
CREATE FUNCTION pg_temp.worker(n int, role text DEFAULT 'postgres') RETURNS text LANGUAGE sql AS $$
    SELECT format('host=127.0.0.1 port=%s dbname=%s user=%s',
                  current_setting('regress.worker_' || n || '_port'), current_database(), role)
$$;
CREATE FUNCTION pg_temp.on_workers(sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR n IN 1..2 LOOP
        PERFORM dblink_exec(pg_temp.worker(n), sql);
    END LOOP;
END $$;
-- As superuser, on both workers: the value of `sql` (one text column) on each, in node order.
CREATE FUNCTION pg_temp.on_workers_query(sql text, OUT node text, OUT value text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
    FOR n IN 1..2 LOOP
        node := 'worker_' || n;
        SELECT x.v INTO value FROM dblink(pg_temp.worker(n), sql) AS x(v text);
        RETURN NEXT;
    END LOOP;
END $$;

-- (5) Schemas whose names need quoting.
CREATE SCHEMA "sec a b";
CREATE TABLE "sec a b"."t 1" (id int, v text);
INSERT INTO "sec a b"."t 1" VALUES (1, 'one'), (2, 'two'), (3, 'three');
SELECT create_distributed_table('"sec a b"."t 1"', 'id', shard_count => 4);
SELECT rollup.is_distributed('"sec a b"."t 1"');
INSERT INTO "sec a b"."t 1" VALUES (4, 'four');
UPDATE "sec a b"."t 1" SET v = 'uno' WHERE id = 1;
DELETE FROM "sec a b"."t 1" WHERE id = 2;
SELECT * FROM "sec a b"."t 1" ORDER BY id;
-- a second table in that schema, which now exists on the workers
CREATE TABLE "sec a b".t2 (id int);
SELECT create_distributed_table('"sec a b".t2', 'id', shard_count => 4);
INSERT INTO "sec a b".t2 SELECT generate_series(1, 10);
SELECT count(*) FROM "sec a b".t2;
SELECT * FROM pg_temp.on_workers_query($$SELECT count(*)::text FROM pg_tables WHERE schemaname = 'sec a b'$$);
DROP TABLE "sec a b"."t 1", "sec a b".t2;
SELECT * FROM pg_temp.on_workers_query($$SELECT count(*)::text FROM pg_tables WHERE schemaname = 'sec a b'$$);
-- upper case: two tables, the second one finds the schema on the workers
CREATE SCHEMA "SecUpper";
CREATE TABLE "SecUpper".t1 (id int);
CREATE TABLE "SecUpper".t2 (id int);
SELECT create_distributed_table('"SecUpper".t1', 'id', shard_count => 4);
SELECT create_distributed_table('"SecUpper".t2', 'id', shard_count => 4);
INSERT INTO "SecUpper".t2 VALUES (1), (2);
SELECT count(*) FROM "SecUpper".t2;
SELECT table_name, count(*) AS shards FROM rollup.shards WHERE table_name::text LIKE '"SecUpper".%'
 GROUP BY 1 ORDER BY 1;
DROP TABLE "SecUpper".t1, "SecUpper".t2;
SELECT * FROM pg_temp.on_workers_query($$SELECT count(*)::text FROM pg_tables WHERE schemaname = 'SecUpper'$$);
DROP SCHEMA "sec a b";
DROP SCHEMA "SecUpper";
SET client_min_messages TO warning;
SELECT pg_temp.on_workers('DROP SCHEMA IF EXISTS "sec a b" CASCADE; DROP SCHEMA IF EXISTS "SecUpper" CASCADE');
RESET client_min_messages;

-- (6) Two-phase commit recovery against prepared transactions it did not make. rollup's gids are
-- rollup_<coordinator system id>_<xid>_<node>_<slot>; an ordinary role prepares, on worker 1, one
-- with a single quote in it and one with no transaction id.
SET client_min_messages TO warning;
CREATE ROLE sec_2pc LOGIN;
SELECT pg_temp.on_workers('CREATE ROLE sec_2pc LOGIN');
RESET client_min_messages;
SELECT format('rollup_%s_1_1''x', system_identifier) AS gid_quote,
       format('rollup_%s_x', system_identifier) AS gid_noxid
  FROM pg_control_system() \gset
SELECT dblink_connect('sec_2pc_a', pg_temp.worker(1, 'sec_2pc'));
SELECT dblink_exec('sec_2pc_a', 'BEGIN');
SELECT dblink_exec('sec_2pc_a', format('PREPARE TRANSACTION %L', :'gid_quote'));
SELECT dblink_disconnect('sec_2pc_a');
SELECT dblink_connect('sec_2pc_b', pg_temp.worker(1, 'sec_2pc'));
SELECT dblink_exec('sec_2pc_b', 'BEGIN');
SELECT dblink_exec('sec_2pc_b', format('PREPARE TRANSACTION %L', :'gid_noxid'));
SELECT dblink_disconnect('sec_2pc_b');
-- recovery works (no error) ...
SELECT rollup.recover_prepared_transactions() >= 0 AS recovery_ran;
-- ... and a write that needs two-phase commit still commits
CREATE TABLE sec_2pc_t (id int);
SELECT create_distributed_table('sec_2pc_t', 'id', shard_count => 4);
INSERT INTO sec_2pc_t SELECT generate_series(1, 20);
SELECT count(*) FROM sec_2pc_t;
SELECT rollup.recover_prepared_transactions() >= 0 AS recovery_ran;
-- ... and both foreign transactions are still there, untouched
SELECT gid = :'gid_quote' AS quote_gid, owner
  FROM dblink(pg_temp.worker(1), 'SELECT gid, owner::text FROM pg_prepared_xacts')
       AS p(gid text, owner text)
 WHERE gid IN (:'gid_quote', :'gid_noxid') ORDER BY 1;
SELECT dblink_exec(pg_temp.worker(1), format('ROLLBACK PREPARED %L', :'gid_quote'));
SELECT dblink_exec(pg_temp.worker(1), format('ROLLBACK PREPARED %L', :'gid_noxid'));
DROP TABLE sec_2pc_t;
SET client_min_messages TO warning;
SELECT pg_temp.on_workers('DROP ROLE sec_2pc');
DROP ROLE sec_2pc;
RESET client_min_messages;

-- (7) Ownership.
SET client_min_messages TO warning;
CREATE ROLE sec_frank LOGIN;
CREATE ROLE sec_heir LOGIN;
CREATE ROLE sec_stranger LOGIN;
SELECT pg_temp.on_workers('CREATE ROLE sec_frank LOGIN; CREATE ROLE sec_heir LOGIN; CREATE ROLE sec_stranger LOGIN');
CREATE SCHEMA sec_own;
GRANT USAGE ON SCHEMA sec_own TO sec_frank, sec_heir, sec_stranger;
SELECT pg_temp.on_workers('CREATE SCHEMA sec_own; GRANT USAGE ON SCHEMA sec_own TO sec_frank, sec_heir, sec_stranger');
RESET client_min_messages;
-- As superuser: the owners of the shards of a table, on the workers.
CREATE FUNCTION pg_temp.shard_owners(tbl regclass) RETURNS TABLE (owner text, shards bigint) LANGUAGE sql AS $$
    SELECT o.owner, count(*)
      FROM rollup.shards s,
           LATERAL dblink(format('host=127.0.0.1 port=%s dbname=%s user=postgres', s.port, current_database()),
                          format('SELECT relowner::regrole::text FROM pg_class WHERE oid = %L::regclass',
                                 s.shard_name)) AS o(owner text)
     WHERE s.table_name = tbl
     GROUP BY 1 ORDER BY 1
$$;
-- A superuser distributes a table that sec_frank owns: the shards are sec_frank's, and sec_frank
-- can use its table.
CREATE TABLE sec_own.fr (id int, v int);
ALTER TABLE sec_own.fr OWNER TO sec_frank;
SELECT create_distributed_table('sec_own.fr', 'id', shard_count => 4);
SELECT * FROM pg_temp.shard_owners('sec_own.fr');
SET ROLE sec_frank;
INSERT INTO sec_own.fr VALUES (1, 1), (2, 2);
SELECT * FROM sec_own.fr ORDER BY id;
UPDATE sec_own.fr SET v = 10 WHERE id = 1;
TRUNCATE sec_own.fr;
INSERT INTO sec_own.fr VALUES (3, 3);
RESET ROLE;
SELECT * FROM sec_own.fr ORDER BY id;
-- REASSIGN OWNED reaches the shards: sec_heir owns them and can use the table; sec_frank no more
REASSIGN OWNED BY sec_frank TO sec_heir;
SELECT relowner::regrole AS owner FROM pg_class WHERE oid = 'sec_own.fr'::regclass;
SELECT * FROM pg_temp.shard_owners('sec_own.fr');
SET ROLE sec_heir;
INSERT INTO sec_own.fr VALUES (4, 4);
SELECT * FROM sec_own.fr ORDER BY id;
RESET ROLE;
-- DROP OWNED drops the table and its shards
DROP OWNED BY sec_heir;
SELECT to_regclass('sec_own.fr') AS table_left;
SELECT * FROM pg_temp.on_workers_query($$SELECT count(*)::text FROM pg_tables WHERE schemaname = 'sec_own'$$);

-- A role that does not own a table gets a permission error from create_distributed_table at once,
-- without waiting for (or taking) a lock on it. Another session holds a write lock on the table:
-- the stranger's call must fail with insufficient_privilege, not wait for that lock.
CREATE TABLE sec_own.locked (id int);
ALTER TABLE sec_own.locked OWNER TO sec_frank;
SELECT dblink_connect('sec_holder', format('host=127.0.0.1 port=%s dbname=%s user=postgres',
                                           current_setting('port'), current_database()));
SELECT dblink_exec('sec_holder', 'BEGIN; LOCK TABLE sec_own.locked IN ROW EXCLUSIVE MODE');
SET ROLE sec_stranger;
SET lock_timeout = '2s';
DO $$
BEGIN
    PERFORM create_distributed_table('sec_own.locked', 'id');
    RAISE NOTICE 'distributed by a role that does not own it';
EXCEPTION
    WHEN insufficient_privilege THEN RAISE NOTICE 'refused: not the owner';
    WHEN lock_not_available THEN RAISE NOTICE 'waited for the lock before checking ownership';
END $$;
RESET lock_timeout;
RESET ROLE;
SELECT dblink_exec('sec_holder', 'ROLLBACK');
SELECT dblink_disconnect('sec_holder');
SELECT rollup.is_distributed('sec_own.locked');
DROP TABLE sec_own.locked;

-- rollup.node_conninfo adds libpq options to node connections; it must not change which role or
-- database a node session belongs to (node sessions run as the querying user).
CREATE FUNCTION pg_temp.try_node_conninfo(value text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('rollup.node_conninfo', value, true);
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN 'refused';
END $$;
SELECT v AS node_conninfo, pg_temp.try_node_conninfo(v) AS as_superuser
  FROM unnest(ARRAY['user=postgres', 'dbname=postgres', 'service=rollup', 'passfile=/tmp/rollup_pgpass',
                    'connect_timeout=5 user=postgres']) AS v;
SHOW rollup.node_conninfo;
-- an ordinary role cannot set it at all
SET ROLE sec_stranger;
SELECT pg_temp.try_node_conninfo('sslmode=disable') AS as_ordinary_role;
RESET ROLE;
-- options that do not change the role are fine
SELECT pg_temp.try_node_conninfo('connect_timeout=5') AS as_superuser;

SELECT 1 AS still_up;

SET client_min_messages TO warning;
DROP SCHEMA sec_own CASCADE;
SELECT pg_temp.on_workers('DROP SCHEMA sec_own CASCADE');
SELECT pg_temp.on_workers('DROP ROLE sec_frank; DROP ROLE sec_heir; DROP ROLE sec_stranger');
DROP ROLE sec_frank;
DROP ROLE sec_heir;
DROP ROLE sec_stranger;
RESET client_min_messages;
DROP EXTENSION dblink;
