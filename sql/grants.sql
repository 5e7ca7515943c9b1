-- Privileges of a distributed table reach its shards: node sessions run as the querying user, so a
-- GRANT on the table must also be a GRANT on every shard. Roles and schemas themselves are not
-- created on the workers by rollup: here the test creates them on every node.
\i sql/helpers/on_workers.sql
SET client_min_messages TO warning;
CREATE ROLE rg_owner LOGIN;
CREATE ROLE rg_reader LOGIN;
SELECT pg_temp.on_workers('CREATE ROLE rg_owner LOGIN');
SELECT pg_temp.on_workers('CREATE ROLE rg_reader LOGIN');
CREATE SCHEMA rg AUTHORIZATION rg_owner;
GRANT USAGE ON SCHEMA rg TO rg_reader;
SELECT pg_temp.on_workers('CREATE SCHEMA rg AUTHORIZATION rg_owner; GRANT USAGE ON SCHEMA rg TO rg_reader');
RESET client_min_messages;

-- On every worker, as a superuser: does rg_reader hold SELECT on each shard of the test's tables?
CREATE FUNCTION pg_temp.reader_on_shards(OUT table_name regclass, OUT reader_can_select_every_shard boolean,
                                         OUT shards bigint)
RETURNS SETOF record LANGUAGE sql AS $$
SELECT s.table_name, bool_and(p.granted), count(*)
  FROM rollup.shards s,
       LATERAL dblink(format('host=127.0.0.1 port=%s dbname=%s user=postgres', s.port, current_database()),
                      format('SELECT has_table_privilege(%L, %L, %L)', 'rg_reader', s.shard_name, 'SELECT'))
               AS p(granted boolean)
 WHERE s.table_name::text IN ('rg.before', 'rg.after')
 GROUP BY 1 ORDER BY 1
$$;
SET ROLE rg_owner;
-- granted before distribution: the shards get it when they are created
CREATE TABLE rg.before (id int, v text);
INSERT INTO rg.before SELECT g, 'v' || g FROM generate_series(1, 100) g;
GRANT SELECT ON rg.before TO rg_reader;
SELECT create_distributed_table('rg.before', 'id', shard_count => 4);
-- granted after distribution: the GRANT reaches the shards
CREATE TABLE rg.after (id int, v text);
SELECT create_distributed_table('rg.after', 'id', shard_count => 4);
INSERT INTO rg.after SELECT g, 'v' || g FROM generate_series(1, 50) g;
GRANT SELECT, INSERT ON rg.after TO rg_reader;
RESET ROLE;

SET ROLE rg_reader;
SELECT count(*) FROM rg.before;
SELECT count(*) FROM rg.after WHERE id <= 10;
INSERT INTO rg.after VALUES (51, 'by reader');
SELECT v FROM rg.after WHERE id = 51;
-- not granted: refused on the coordinator, as for a local table
UPDATE rg.after SET v = 'no' WHERE id = 1;
DELETE FROM rg.before;
RESET ROLE;

-- REVOKE reaches the shards too: even straight on a worker the reader cannot read a shard
SET ROLE rg_owner;
REVOKE SELECT ON rg.before FROM rg_reader;
RESET ROLE;
SET ROLE rg_reader;
SELECT count(*) FROM rg.before;
RESET ROLE;
SELECT * FROM pg_temp.reader_on_shards();

-- GRANT ... ON ALL TABLES IN SCHEMA covers distributed tables as well
SET ROLE rg_owner;
GRANT SELECT ON ALL TABLES IN SCHEMA rg TO rg_reader;
RESET ROLE;
SET ROLE rg_reader;
SELECT count(*) FROM rg.before;
RESET ROLE;
SELECT * FROM pg_temp.reader_on_shards();

DROP SCHEMA rg CASCADE;
SET client_min_messages TO warning;
SELECT pg_temp.on_workers('DROP SCHEMA rg CASCADE');
SELECT pg_temp.on_workers('DROP ROLE rg_owner');
SELECT pg_temp.on_workers('DROP ROLE rg_reader');
DROP ROLE rg_owner;
DROP ROLE rg_reader;
RESET client_min_messages;
DROP EXTENSION dblink;
