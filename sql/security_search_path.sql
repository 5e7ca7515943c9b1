-- Attack (issue 9, defect 1): rollup runs some SQL as the bootstrap superuser on behalf of an
-- ordinary role (the metadata writes of create_distributed_table, undistribute_table and DROP TABLE,
-- the catalog statements of rollup.schedule / alter_job / unschedule / set_retention / expire /
-- remove_retention, the job worker's run records). If that SQL resolves functions and operators on
-- the caller's search_path, the caller chooses what the superuser runs. The attacker sec_sp, an
-- ordinary role that owns its tables, puts objects that shadow pg_catalog's (nextval(text), now(),
-- quote_ident(text), and "=" / "<>" on int, bigint, oid, text and interval; NULLIF uses "=") into
-- its schema, ahead of pg_catalog on its search_path. Each one tries ALTER ROLE sec_sp SUPERUSER
-- (silently failing when run as sec_sp itself) and then behaves like the original. After every
-- entry point the test asks, as superuser, whether sec_sp became superuser: it must never have.
\i sql/helpers/on_workers.sql
SET client_min_messages TO warning;
CREATE ROLE sec_sp LOGIN;
SELECT pg_temp.on_workers('CREATE ROLE sec_sp LOGIN');
CREATE SCHEMA sec_sp AUTHORIZATION sec_sp;
SELECT pg_temp.on_workers('CREATE SCHEMA sec_sp AUTHORIZATION sec_sp');
RESET client_min_messages;

-- As superuser, after each attack: did sec_sp become superuser (on the coordinator, where the
-- privileged SQL runs)? If it did, the privilege is taken back, so that each entry point is judged
-- on its own. The secure answer is always f.
CREATE FUNCTION pg_temp.attacker_is_superuser() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE gained boolean;
BEGIN
    SELECT r.rolsuper INTO gained FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) 'sec_sp';
    IF gained THEN
        ALTER ROLE sec_sp NOSUPERUSER;
    END IF;
    RETURN gained;
END $$;
-- Polls `condition` every 0.1 s for up to `seconds` (as in sql/scheduler.sql).
CREATE FUNCTION pg_temp.wait_until(condition text, seconds int DEFAULT 60) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
    FOR i IN 1 .. seconds * 10 LOOP
        EXECUTE 'SELECT (' || condition || ')' INTO ok;
        IF ok THEN RETURN true; END IF;
        PERFORM pg_sleep(0.1);
        PERFORM pg_stat_clear_snapshot();
    END LOOP;
    RETURN false;
END $$;

-- The attacker's objects.
SET ROLE sec_sp;
CREATE FUNCTION sec_sp.escalate() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    ALTER ROLE sec_sp SUPERUSER;
EXCEPTION WHEN OTHERS THEN
    NULL;  -- run as sec_sp itself: nothing to gain, stay unnoticed
END $$;
CREATE FUNCTION sec_sp.nextval(text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM sec_sp.escalate(); RETURN pg_catalog.nextval($1::pg_catalog.regclass); END $$;
CREATE FUNCTION sec_sp.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM sec_sp.escalate(); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION sec_sp.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM sec_sp.escalate(); RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION sec_sp.quote_ident(text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM sec_sp.escalate(); RETURN pg_catalog.quote_ident($1); END $$;
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['integer', 'bigint', 'oid', 'text', 'interval'] LOOP
        EXECUTE format($f$CREATE FUNCTION sec_sp.eq(%1$s, %1$s) RETURNS boolean LANGUAGE plpgsql AS
            'BEGIN PERFORM sec_sp.escalate(); RETURN $1 OPERATOR(pg_catalog.=) $2; END'$f$, t);
        EXECUTE format($f$CREATE FUNCTION sec_sp.ne(%1$s, %1$s) RETURNS boolean LANGUAGE plpgsql AS
            'BEGIN PERFORM sec_sp.escalate(); RETURN $1 OPERATOR(pg_catalog.<>) $2; END'$f$, t);
        EXECUTE format('CREATE OPERATOR sec_sp.= (LEFTARG = %1$s, RIGHTARG = %1$s, FUNCTION = sec_sp.eq)', t);
        EXECUTE format('CREATE OPERATOR sec_sp.<> (LEFTARG = %1$s, RIGHTARG = %1$s, FUNCTION = sec_sp.ne)', t);
    END LOOP;
END $$;
CREATE TABLE sec_sp.t1 (id int, v text);
INSERT INTO sec_sp.t1 SELECT g, 'v' || g FROM generate_series(1, 20) g;
CREATE TABLE sec_sp.t2 (id int, v text);
CREATE TABLE sec_sp.t3 (id int, at timestamptz);
CREATE TABLE sec_sp.t4 (id int, v text);
INSERT INTO sec_sp.t3 VALUES (1, now() - interval '10 days'), (2, now());
RESET ROLE;

-- create_distributed_table: the metadata rows (co-location group, shard ids) are written as superuser.
SET ROLE sec_sp;
SET search_path = sec_sp, pg_catalog;
SELECT create_distributed_table('sec_sp.t1', 'id', shard_count => 4);
RESET ROLE;
RESET search_path;
SELECT pg_temp.attacker_is_superuser();
SELECT count(*) AS rows_in_t1 FROM sec_sp.t1;

-- undistribute_table: the metadata rows are deleted as superuser.
SET ROLE sec_sp;
SET search_path = sec_sp, pg_catalog;
SELECT undistribute_table('sec_sp.t1');
RESET ROLE;
RESET search_path;
SELECT pg_temp.attacker_is_superuser();
SELECT rollup.is_distributed('sec_sp.t1') AS still_distributed, count(*) AS rows_in_t1 FROM sec_sp.t1;

-- DROP TABLE of a distributed table: the drop trigger deletes its metadata rows as superuser.
SET ROLE sec_sp;
SELECT create_distributed_table('sec_sp.t2', 'id', shard_count => 4);
SET search_path = sec_sp, pg_catalog;
DROP TABLE sec_sp.t2;
RESET ROLE;
RESET search_path;
SELECT pg_temp.attacker_is_superuser();
SELECT count(*) AS shards_left FROM rollup.shard WHERE logicalrelid::oid NOT IN (SELECT oid FROM pg_class);

-- rollup.schedule (a timeout goes through NULLIF, i.e. "=" on interval), then again with another
-- schedule (ON CONFLICT DO UPDATE: "=" on text, now()).
SET ROLE sec_sp;
SET search_path = sec_sp, pg_catalog;
SELECT rollup.schedule('sp_job', '1 minute', 'SELECT 1', timeout => '1 minute') > 0 AS scheduled;
RESET ROLE;
RESET search_path;
SELECT pg_temp.attacker_is_superuser();
SET ROLE sec_sp;
SET search_path = sec_sp, pg_catalog;
SELECT rollup.schedule('sp_job', '2 minutes', 'SELECT 1', timeout => '2 minutes') > 0 AS rescheduled;
RESET ROLE;
RESET search_path;
SELECT pg_temp.attacker_is_superuser();

-- rollup.alter_job and rollup.unschedule: the job is looked up and changed as superuser.
SET ROLE sec_sp;
SET search_path = sec_sp, pg_catalog;
SELECT rollup.alter_job('sp_job', schedule => '3 minutes');
RESET ROLE;
RESET search_path;
SELECT pg_temp.attacker_is_superuser();
SET ROLE sec_sp;
SET search_path = sec_sp, pg_catalog;
SELECT rollup.unschedule('sp_job');
RESET ROLE;
RESET search_path;
SELECT pg_temp.attacker_is_superuser();
SELECT count(*) AS jobs_left FROM rollup.jobs WHERE owner = 'sec_sp';

-- rollup.set_retention, rollup.expire, rollup.remove_retention: the policy is read and written
-- as superuser.
SET ROLE sec_sp;
SET search_path = sec_sp, pg_catalog;
SELECT rollup.set_retention('sec_sp.t3', 'at', '1 day');
RESET ROLE;
RESET search_path;
SELECT pg_temp.attacker_is_superuser();
SET ROLE sec_sp;
SET search_path = sec_sp, pg_catalog;
SELECT rollup.expire('sec_sp.t3') AS expired;
RESET ROLE;
RESET search_path;
SELECT pg_temp.attacker_is_superuser();
SELECT id FROM sec_sp.t3 ORDER BY id;
SET ROLE sec_sp;
SET search_path = sec_sp, pg_catalog;
SELECT rollup.remove_retention('sec_sp.t3');
RESET ROLE;
RESET search_path;
SELECT pg_temp.attacker_is_superuser();

-- The job worker connects as the job's owner (so the owner's role settings apply, search_path
-- included) and writes the run records as superuser in that session; a job's command can also
-- SET search_path for the rest of the session.
SELECT pg_temp.wait_until($$EXISTS (SELECT 1 FROM pg_stat_activity
    WHERE backend_type = 'rollup scheduler' AND datname = current_database())$$) AS scheduler_running;
ALTER ROLE sec_sp SET search_path = sec_sp, pg_catalog;
SET ROLE sec_sp;
SELECT rollup.schedule('sp_role_setting', '1 second', 'SELECT 1') > 0 AS scheduled;
RESET ROLE;
SELECT pg_temp.wait_until($$EXISTS (SELECT 1 FROM rollup.job_runs
    WHERE job_name = 'sp_role_setting' AND status IN ('succeeded', 'failed'))$$) AS job_ran;
SELECT rollup.unschedule(jobid) FROM rollup.jobs WHERE job_name = 'sp_role_setting';
-- wait for runs still in flight to finish (their records are written as superuser too)
SELECT pg_temp.wait_until($$NOT EXISTS (SELECT 1 FROM rollup.job_runs
    WHERE job_name = 'sp_role_setting' AND status = 'running')$$) AS runs_done;
SELECT pg_temp.attacker_is_superuser();
ALTER ROLE sec_sp RESET search_path;
SET ROLE sec_sp;
SELECT rollup.schedule('sp_command_set', '1 second', 'SET search_path = sec_sp, pg_catalog') > 0 AS scheduled;
RESET ROLE;
SELECT pg_temp.wait_until($$EXISTS (SELECT 1 FROM rollup.job_runs
    WHERE job_name = 'sp_command_set' AND status IN ('succeeded', 'failed'))$$) AS job_ran;
SELECT rollup.unschedule(jobid) FROM rollup.jobs WHERE job_name = 'sp_command_set';
SELECT pg_temp.wait_until($$NOT EXISTS (SELECT 1 FROM rollup.job_runs
    WHERE job_name = 'sp_command_set' AND status = 'running')$$) AS runs_done;
SELECT pg_temp.attacker_is_superuser();

-- GRANT on a distributed table: its privileges are read and copied to the shards (as the user
-- who grants, here sec_sp itself).
SET ROLE sec_sp;
SELECT create_distributed_table('sec_sp.t4', 'id', shard_count => 4);
SET search_path = sec_sp, pg_catalog;
GRANT SELECT ON sec_sp.t4 TO PUBLIC;
RESET ROLE;
RESET search_path;
SELECT pg_temp.attacker_is_superuser();

-- The server is still up and the attacker holds nothing.
SELECT 1 AS still_up;
SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = 'sec_sp';

SET client_min_messages TO warning;
DROP SCHEMA sec_sp CASCADE;
SELECT pg_temp.on_workers('DROP SCHEMA sec_sp CASCADE');
SELECT pg_temp.on_workers('DROP ROLE sec_sp');
DROP ROLE sec_sp;
RESET client_min_messages;
DROP EXTENSION dblink;
