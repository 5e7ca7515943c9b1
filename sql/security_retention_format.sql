-- Attack (issue 9, defect 4): format directives in an identifier. An ordinary role (sec_fmt) sets a
-- retention policy on a time column named t%s%s%s%s%s%s, on a distributed and on a local table,
-- and runs rollup.expire: the column name must reach the DELETE as a name (not as a format string,
-- which makes the server read arguments that were never passed), the server must stay up, and
-- exactly the expired rows must go. The local table comes last: on a server where the attack
-- works, its rollup.expire ends the session (the file stops there, leaving sec_fmt behind).
\i sql/helpers/on_workers.sql
SET client_min_messages TO warning;
CREATE ROLE sec_fmt LOGIN;
SELECT pg_temp.on_workers('CREATE ROLE sec_fmt LOGIN');
CREATE SCHEMA sec_fmt AUTHORIZATION sec_fmt;
SELECT pg_temp.on_workers('CREATE SCHEMA sec_fmt AUTHORIZATION sec_fmt');
RESET client_min_messages;

SET ROLE sec_fmt;
CREATE TABLE sec_fmt.dist (id int, "t%s%s%s%s%s%s" timestamptz NOT NULL);
SELECT create_distributed_table('sec_fmt.dist', 'id', shard_count => 4);
INSERT INTO sec_fmt.dist SELECT g, now() - g * interval '1 day' FROM generate_series(0, 9) g;
CREATE TABLE sec_fmt.loc (id int, "t%s%s%s%s%s%s" timestamptz NOT NULL);
INSERT INTO sec_fmt.loc SELECT g, now() - g * interval '1 day' FROM generate_series(0, 9) g;
-- the policies' jobs stay paused (paused in the same transaction, so the scheduler never sees them
-- active): only the rollup.expire calls below delete
BEGIN;
SELECT rollup.set_retention('sec_fmt.dist', 't%s%s%s%s%s%s', '3 days 12 hours');
SELECT rollup.set_retention('sec_fmt.loc', 't%s%s%s%s%s%s', '3 days 12 hours');
SELECT rollup.alter_job(job_name, active => false) FROM rollup.jobs
 WHERE retention_of IN ('sec_fmt.dist'::regclass, 'sec_fmt.loc'::regclass) ORDER BY job_name;
COMMIT;
SELECT "table", time_column, keep FROM rollup.retention_policies
 WHERE "table" IN ('sec_fmt.dist'::regclass, 'sec_fmt.loc'::regclass) ORDER BY 1;

-- distributed: rows 4 .. 9 days old expire, 0 .. 3 stay
SELECT rollup.expire('sec_fmt.dist') AS expired;
SELECT 1 AS still_up;
SELECT array_agg(id ORDER BY id) AS rows_left FROM sec_fmt.dist;
SELECT rollup.remove_retention('sec_fmt.dist');
DROP TABLE sec_fmt.dist;

-- local
SELECT rollup.expire('sec_fmt.loc') AS expired;
SELECT 1 AS still_up;
SELECT array_agg(id ORDER BY id) AS rows_left FROM sec_fmt.loc;
SELECT rollup.remove_retention('sec_fmt.loc');
RESET ROLE;

SET client_min_messages TO warning;
DROP SCHEMA sec_fmt CASCADE;
SELECT pg_temp.on_workers('DROP SCHEMA sec_fmt CASCADE');
SELECT pg_temp.on_workers('DROP ROLE sec_fmt');
DROP ROLE sec_fmt;
RESET client_min_messages;
DROP EXTENSION dblink;
