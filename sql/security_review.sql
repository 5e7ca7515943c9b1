-- Attacks from the review of the security change (commit "Review fixes"), each written as the
-- attack, with what the attacker must not have gained printed afterwards. Roles: rv_alice and rv_bob
-- (ordinary roles, on the coordinator and both workers); the superuser is the victim.
--  1. retention set by a superuser on alice's table: alice's triggers must not run as the superuser;
--  2. rollup.deparse_for_shard: not for ordinary roles; a DO INSTEAD NOTHING rule must not crash;
--  3. policies that compute differently on the nodes are refused on distributed tables;
--  4. whole-row values of a distributed table never reach a worker (bob squats the type name there);
--  5. standard_conforming_strings = off on the workers' database: literals stay literals;
--  6. INSERT ... ON CONFLICT DO UPDATE through a view WITH CHECK OPTION;
--  7. bob's open transaction on his own job must not block alice's job of the same name;
--  8. undistribute_table under FORCE ROW LEVEL SECURITY must not lose rows.
-- Errors that are the secure outcome print only their SQLSTATE (pg_temp.try).
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
CREATE FUNCTION pg_temp.worker(n int, role text DEFAULT 'postgres') RETURNS text LANGUAGE sql AS $$
    SELECT format('host=127.0.0.1 port=%s dbname=%s user=%s',
                  current_setting('regress.worker_' || n || '_port'), current_database(), role)
$$;
CREATE FUNCTION pg_temp.coordinator(role text DEFAULT 'postgres') RETURNS text LANGUAGE sql AS $$
    SELECT format('host=127.0.0.1 port=%s dbname=%s user=%s', current_setting('port'), current_database(), role)
$$;
CREATE FUNCTION pg_temp.on_workers(sql text, role text DEFAULT 'postgres') RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR n IN 1..2 LOOP
        PERFORM dblink_exec(pg_temp.worker(n, role), sql);
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
-- Runs a statement: a query's (or RETURNING's) first value, a write's row count, or the SQLSTATE of
-- its error.
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    r text;
BEGIN
    IF sql ~* '^\s*(select|with)' OR sql ~* '\mreturning\M' THEN
        EXECUTE sql INTO r;
        RETURN coalesce(r, '<null>');
    END IF;
    EXECUTE sql;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n || ' rows';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
-- Whether `role` is a superuser, on every node.
CREATE FUNCTION pg_temp.superuser_on_nodes(role text, OUT node text, OUT attacker_is_superuser boolean)
RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
    node := 'coordinator';
    SELECT rolsuper INTO attacker_is_superuser FROM pg_roles WHERE rolname = role;
    RETURN NEXT;
    FOR n IN 1..2 LOOP
        node := 'worker_' || n;
        SELECT x.s INTO attacker_is_superuser
          FROM dblink(pg_temp.worker(n), format('SELECT rolsuper FROM pg_roles WHERE rolname = %L', role))
               AS x(s boolean);
        RETURN NEXT;
    END LOOP;
END $$;
-- Takes superuser away from `role` everywhere again (a no-op where the attack failed), so that a
-- server where an attack works still runs the following sections with ordinary roles.
CREATE FUNCTION pg_temp.demote(role text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER ROLE %I NOSUPERUSER', role);
    PERFORM pg_temp.on_workers(format('ALTER ROLE %I NOSUPERUSER', role));
END $$;

SET client_min_messages TO warning;
CREATE ROLE rv_alice LOGIN;
CREATE ROLE rv_bob LOGIN;
SELECT pg_temp.on_workers('CREATE ROLE rv_alice LOGIN; CREATE ROLE rv_bob LOGIN');
CREATE SCHEMA rv AUTHORIZATION rv_alice;
GRANT USAGE ON SCHEMA rv TO rv_bob;
SELECT pg_temp.on_workers('CREATE SCHEMA rv AUTHORIZATION rv_alice; GRANT USAGE ON SCHEMA rv TO rv_bob');
RESET client_min_messages;

-- 1. Retention runs alice's triggers. A superuser sets a retention policy on tables that alice owns
-- and expires them; alice's BEFORE DELETE trigger (on the local table, and on her shard tables on
-- the workers) makes her a superuser whenever it runs as one. The deletes must run as alice: she
-- stays an ordinary role everywhere, and exactly the expired rows go.
SET ROLE rv_alice;
CREATE TABLE rv.trigger_log (who text, who_is_superuser boolean);
CREATE FUNCTION rv.on_delete() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    su boolean;
BEGIN
    SELECT rolsuper INTO su FROM pg_catalog.pg_roles WHERE rolname = current_user;
    INSERT INTO rv.trigger_log VALUES (current_user, su);
    IF su THEN
        BEGIN
            EXECUTE 'ALTER ROLE rv_alice SUPERUSER';
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
    END IF;
    RETURN OLD;
END $f$;
-- rows 0 .. 9 days old: 4 .. 9 expire, 0 .. 3 stay
CREATE TABLE rv.ret_local (id int, ts timestamptz NOT NULL);
INSERT INTO rv.ret_local SELECT g, now() - g * interval '1 day' FROM generate_series(0, 9) g;
CREATE TRIGGER escalate BEFORE DELETE ON rv.ret_local FOR EACH ROW EXECUTE FUNCTION rv.on_delete();
CREATE TABLE rv.ret_dist (id int, ts timestamptz NOT NULL);
SELECT create_distributed_table('rv.ret_dist', 'id', shard_count => 4);
INSERT INTO rv.ret_dist SELECT g, now() - g * interval '1 day' FROM generate_series(0, 9) g;
RESET ROLE;
-- alice, on the workers (as herself): the same log, function and trigger on each of her shards
SELECT pg_temp.on_workers($w$
CREATE TABLE rv.trigger_log (who text, who_is_superuser boolean);
CREATE FUNCTION rv.on_delete() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    su boolean;
BEGIN
    SELECT rolsuper INTO su FROM pg_catalog.pg_roles WHERE rolname = current_user;
    INSERT INTO rv.trigger_log VALUES (current_user, su);
    IF su THEN
        BEGIN
            EXECUTE 'ALTER ROLE rv_alice SUPERUSER';
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
    END IF;
    RETURN OLD;
END $f$;
$w$, 'rv_alice');
SELECT count(dblink_exec(format('host=127.0.0.1 port=%s dbname=%s user=rv_alice', port, current_database()),
                         format('CREATE TRIGGER escalate BEFORE DELETE ON %s FOR EACH ROW EXECUTE FUNCTION rv.on_delete()',
                                shard_name))) AS shard_triggers
  FROM rollup.shards WHERE table_name = 'rv.ret_dist'::regclass;
-- the superuser sets the policies (their jobs stay paused) and expires
SELECT rollup.set_retention('rv.ret_local', 'ts', '3 days 12 hours');
SELECT rollup.set_retention('rv.ret_dist', 'ts', '3 days 12 hours');
SELECT rollup.alter_job(job_name, active => false) FROM rollup.jobs
 WHERE retention_of IN ('rv.ret_local'::regclass, 'rv.ret_dist'::regclass) ORDER BY job_name;
SELECT rollup.expire('rv.ret_local') >= 0 AS expired_local;
SELECT rollup.expire('rv.ret_dist') >= 0 AS expired_distributed;
SELECT * FROM pg_temp.superuser_on_nodes('rv_alice');
-- the triggers did run, as alice
SELECT 'coordinator' AS node, string_agg(DISTINCT who || ' superuser=' || who_is_superuser, ', ') AS trigger_ran_as
  FROM rv.trigger_log
UNION ALL
SELECT * FROM pg_temp.on_workers_query(
    $$SELECT string_agg(DISTINCT who || ' superuser=' || who_is_superuser, ', ') FROM rv.trigger_log$$);
SELECT array_agg(id ORDER BY id) AS rows_left_local FROM rv.ret_local;
SELECT array_agg(id ORDER BY id) AS rows_left_distributed FROM rv.ret_dist;
SELECT rollup.remove_retention('rv.ret_local');
SELECT rollup.remove_retention('rv.ret_dist');
SELECT pg_temp.demote('rv_alice');

-- 2. rollup.deparse_for_shard (test support) is the superuser's only (its second half, the DO
-- INSTEAD NOTHING rule, comes last in this file: on a server where that attack works it ends the
-- session).
SET ROLE rv_bob;
SELECT pg_temp.try($$SELECT rollup.deparse_for_shard('SELECT 1', 0)$$) AS deparse_for_shard_as_bob;
RESET ROLE;

-- 3. Policies that would compute differently on the nodes (which act as the current user, with
-- their own settings) are refused on distributed tables.
SET ROLE rv_alice;
-- session_user: the node sessions log in as the current user
CREATE TABLE rv.posts (id int, author text);
INSERT INTO rv.posts VALUES (1, 'rv_alice'), (2, 'rv_bob');
ALTER TABLE rv.posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_author ON rv.posts USING (author = session_user);
SELECT pg_temp.try($$SELECT create_distributed_table('rv.posts', 'id', shard_count => 4)$$) AS distribute_session_user_policy;
SELECT rollup.is_distributed('rv.posts');
-- current_setting() on a table already distributed: no policy is made, here or on the shards
CREATE TABLE rv.notes (id int, owner_name text, v int);
SELECT create_distributed_table('rv.notes', 'id', shard_count => 4);
INSERT INTO rv.notes SELECT g, CASE WHEN g % 2 = 0 THEN 'rv_bob' ELSE 'rv_alice' END, g FROM generate_series(1, 6) g;
ALTER TABLE rv.notes ENABLE ROW LEVEL SECURITY;
SELECT pg_temp.try($$CREATE POLICY by_setting ON rv.notes USING (v < current_setting('x.y')::int)$$) AS policy_current_setting;
SELECT count(*) AS policies FROM pg_policy WHERE polrelid = 'rv.notes'::regclass;
RESET ROLE;
SELECT * FROM pg_temp.on_workers_query(
    $$SELECT count(*)::text FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
       WHERE c.relnamespace = 'rv'::regnamespace AND c.relname LIKE 'notes\_%'$$);
-- current_user works: bob (not the owner) sees and updates his rows only
SET ROLE rv_alice;
CREATE POLICY own_rows ON rv.notes USING (owner_name = current_user);
GRANT SELECT, UPDATE ON rv.notes TO rv_bob;
RESET ROLE;
SET ROLE rv_bob;
SELECT string_agg(id::text, ',' ORDER BY id) AS bob_sees FROM rv.notes;
SELECT pg_temp.try($$UPDATE rv.notes SET v = v + 100$$) AS bob_updates;
RESET ROLE;
SELECT string_agg(id || ':' || owner_name || ':' || v, ',' ORDER BY id) AS all_rows FROM rv.notes;

-- 4. Whole-row references. The shard statements would name the coordinator's row type
-- (public.rv_acct), which the workers do not have: bob, who may create objects in public on the
-- workers, makes a type of that name there whose input and whose casts from the shards' row types
-- run his function (it makes him a superuser when a superuser runs it). No statement that names
-- the row type may reach a worker: such statements are refused (0A000) or run without shipping it,
-- with the answers of a local copy.
CREATE TABLE rv_acct (id int, v int);
SELECT create_distributed_table('rv_acct', 'id', shard_count => 4);
INSERT INTO rv_acct VALUES (1, 0), (2, 5);
CREATE TABLE rv_acct_local (id int, v int);
INSERT INTO rv_acct_local VALUES (1, 0), (2, 5);
SELECT pg_temp.on_workers('GRANT CREATE ON SCHEMA public TO rv_bob');
SELECT pg_temp.on_workers($w$
CREATE TABLE public.rv_trap_log (who text);
GRANT INSERT ON public.rv_trap_log TO PUBLIC;
CREATE FUNCTION public.rv_trap() RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO public.rv_trap_log VALUES (current_user);
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE rv_bob SUPERUSER';
    END IF;
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN true;
END $f$;
CREATE DOMAIN public.rv_trap_int AS int CHECK (public.rv_trap());
CREATE TYPE public.rv_acct AS (id public.rv_trap_int, v int);
$w$, 'rv_bob');
SELECT count(dblink_exec(format('host=127.0.0.1 port=%s dbname=%s user=rv_bob', port, current_database()),
                         format($f$CREATE FUNCTION public.rv_trap_cast_%1$s(r %2$s) RETURNS public.rv_acct
                                   LANGUAGE sql AS 'SELECT public.rv_trap(); SELECT ROW(r.id, r.v)::public.rv_acct';
                                   CREATE CAST (%2$s AS public.rv_acct) WITH FUNCTION public.rv_trap_cast_%1$s(%2$s)$f$,
                                shardid, shard_name))) AS casts
  FROM rollup.shards WHERE table_name = 'rv_acct'::regclass;
-- the superuser reads, from the distributed table and from the local copy
SELECT pg_temp.try($$SELECT count(*) FROM rv_acct a WHERE a = ROW(1, 0)::rv_acct$$) AS distributed,
       pg_temp.try($$SELECT count(*) FROM rv_acct_local a WHERE a = ROW(1, 0)::rv_acct_local$$) AS local;
SELECT pg_temp.try($$SELECT string_agg(a::text, ',' ORDER BY a.id) FROM rv_acct a$$) AS distributed,
       pg_temp.try($$SELECT string_agg(a::text, ',' ORDER BY a.id) FROM rv_acct_local a$$) AS local;
SELECT pg_temp.try($$SELECT count(*) FROM rv_acct a WHERE a IS DISTINCT FROM NULL$$) AS distributed,
       pg_temp.try($$SELECT count(*) FROM rv_acct_local a WHERE a IS DISTINCT FROM NULL$$) AS local;
-- ... and writes to the distributed table
SELECT pg_temp.try($$UPDATE rv_acct SET v = v + 1 WHERE id = 1 RETURNING rv_acct$$) AS update_returning_whole_row;
SELECT pg_temp.try($$UPDATE rv_acct a SET v = 9 WHERE a = ROW(2, 5)::rv_acct$$) AS update_where_whole_row;
SELECT pg_temp.try($$DELETE FROM rv_acct a WHERE id = 2 RETURNING a$$) AS delete_returning_whole_row;
SELECT pg_temp.try($$INSERT INTO rv_acct VALUES (3, 3) RETURNING rv_acct$$) AS insert_returning_whole_row;
SELECT string_agg(id || ':' || v, ',' ORDER BY id) AS distributed_rows FROM rv_acct;
SELECT * FROM pg_temp.superuser_on_nodes('rv_bob');
SELECT * FROM pg_temp.on_workers_query($$SELECT count(*)::text FROM public.rv_trap_log$$);
SELECT pg_temp.demote('rv_bob');

-- 5. standard_conforming_strings = off for the workers' database: a value printed into a shard
-- statement must not be read back there as SQL. A fresh coordinator session (dblink) opens fresh
-- node sessions, which get the database setting.
CREATE TABLE rv.scs (id int, b text);
SELECT create_distributed_table('rv.scs', 'id', shard_count => 2);
INSERT INTO rv.scs SELECT g, 'before' FROM generate_series(1, 5) g;
SELECT pg_temp.on_workers(format('ALTER DATABASE %I SET standard_conforming_strings = off', current_database()));
SELECT * FROM pg_temp.on_workers_query('SHOW standard_conforming_strings');
SELECT dblink_connect('rv_fresh', pg_temp.coordinator());
SELECT n AS open_node_connections FROM dblink('rv_fresh', 'SELECT rollup.open_connection_count()') AS t(n int);
SELECT dblink_exec('rv_fresh', 'PREPARE p(text) AS UPDATE rv.scs SET b = $1');
SELECT pg_temp.try($x$SELECT dblink_exec('rv_fresh', $q$EXECUTE p($v$x\'; CREATE TABLE public.pwned AS SELECT current_user AS who; --$v$)$q$)$x$)
       AS update_result;
SELECT dblink_disconnect('rv_fresh');
SELECT pg_temp.on_workers(format('ALTER DATABASE %I RESET standard_conforming_strings', current_database()));
SELECT * FROM pg_temp.on_workers_query($$SELECT (to_regclass('public.pwned') IS NOT NULL)::text$$);
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b = $v$x\'; CREATE TABLE public.pwned AS SELECT current_user AS who; --$v$) AS rows_with_the_text
  FROM rv.scs;

-- 6. INSERT ... ON CONFLICT DO UPDATE through a view WITH CHECK OPTION: the inserted row passes the
-- view's condition, the updated one (v = 77) does not. Refused, the row unchanged; a local twin
-- says 44000.
CREATE TABLE rv.vd (id int PRIMARY KEY, v int);
SELECT create_distributed_table('rv.vd', 'id', shard_count => 4);
INSERT INTO rv.vd VALUES (1, 1);
CREATE VIEW rv.vd_small AS SELECT * FROM rv.vd WHERE v < 50 WITH CHECK OPTION;
CREATE TABLE rv.vl (id int PRIMARY KEY, v int);
INSERT INTO rv.vl VALUES (1, 1);
CREATE VIEW rv.vl_small AS SELECT * FROM rv.vl WHERE v < 50 WITH CHECK OPTION;
SELECT pg_temp.try($$INSERT INTO rv.vd_small VALUES (1, 10) ON CONFLICT (id) DO UPDATE SET v = 77$$) AS distributed,
       pg_temp.try($$INSERT INTO rv.vl_small VALUES (1, 10) ON CONFLICT (id) DO UPDATE SET v = 77$$) AS local;
SELECT (SELECT string_agg(id || ':' || v, ',') FROM rv.vd) AS distributed_rows,
       (SELECT string_agg(id || ':' || v, ',') FROM rv.vl) AS local_rows;

-- 7. Jobs of the same name. alice and bob each schedule 'nightly'; bob holds an open transaction
-- (a second coordinator session) in which he changed his own job. alice's unschedule must not wait
-- for bob's transaction (nor fail with 55P03 after lock_timeout).
SET ROLE rv_alice;
SELECT rollup.schedule('nightly', '* * * * *', 'SELECT 1') > 0 AS alice_scheduled;
RESET ROLE;
SET ROLE rv_bob;
SELECT rollup.schedule('nightly', '* * * * *', 'SELECT 1') > 0 AS bob_scheduled;
RESET ROLE;
SELECT dblink_connect('rv_bob_session', pg_temp.coordinator('rv_bob'));
SELECT dblink_exec('rv_bob_session', 'BEGIN');
SELECT * FROM dblink('rv_bob_session', $$SELECT rollup.alter_job('nightly', active => true)::text$$) AS t(bob_alter_job text);
SET ROLE rv_alice;
SET lock_timeout = '2s';
SELECT pg_temp.try($$SELECT rollup.unschedule('nightly')$$) AS alice_unschedule;
RESET lock_timeout;
RESET ROLE;
SELECT dblink_exec('rv_bob_session', 'COMMIT');
SELECT dblink_disconnect('rv_bob_session');
SELECT owner, active FROM rollup.jobs WHERE job_name = 'nightly' ORDER BY owner;
SELECT rollup.unschedule(jobid) FROM rollup.jobs WHERE job_name = 'nightly' ORDER BY jobid;

-- 8. undistribute_table under FORCE ROW LEVEL SECURITY: the rows come back through the shards as
-- the owner, whose own forced policy hides some of them; refused (55000), nothing lost.
SET ROLE rv_alice;
CREATE TABLE rv.forced (id int, v int);
SELECT create_distributed_table('rv.forced', 'id', shard_count => 4);
INSERT INTO rv.forced SELECT g, g FROM generate_series(1, 10) g;
ALTER TABLE rv.forced ENABLE ROW LEVEL SECURITY;
CREATE POLICY small ON rv.forced USING (v <= 5);
ALTER TABLE rv.forced FORCE ROW LEVEL SECURITY;
SELECT count(*) AS alice_sees FROM rv.forced;
SELECT pg_temp.try($$SELECT undistribute_table('rv.forced')$$) AS undistribute;
RESET ROLE;
SELECT count(*) AS rows_as_superuser, rollup.is_distributed('rv.forced') FROM rv.forced;

SELECT 1 AS still_up;

-- no job of this file is left
SELECT count(*) AS jobs_left FROM rollup.jobs
 WHERE owner IN ('rv_alice', 'rv_bob') OR job_name LIKE 'expire rv.%';

SET client_min_messages TO warning;
-- bob's casts from the shards' row types go first (the shards cannot be dropped while they exist)
SELECT pg_temp.on_workers('DROP OWNED BY rv_bob CASCADE');
DROP SCHEMA rv CASCADE;
DROP TABLE rv_acct, rv_acct_local;
SELECT pg_temp.on_workers('DROP SCHEMA rv CASCADE');
SELECT pg_temp.on_workers('DROP TABLE IF EXISTS public.pwned');
SELECT pg_temp.on_workers('DROP OWNED BY rv_alice');
SELECT pg_temp.on_workers('DROP ROLE rv_alice; DROP ROLE rv_bob');
DROP ROLE rv_alice;
DROP ROLE rv_bob;
RESET client_min_messages;
DROP EXTENSION dblink;

-- 2 (second half). A superuser asks rollup.deparse_for_shard for a statement that a DO INSTEAD
-- NOTHING rule rewrites to no query at all: an error (0A000), and the server stays up.
CREATE TEMP TABLE ruled (id int);
CREATE RULE r AS ON INSERT TO ruled DO INSTEAD NOTHING;
DO $$
BEGIN
    PERFORM rollup.deparse_for_shard('INSERT INTO ruled VALUES (1)', 0);
    RAISE NOTICE 'deparse_for_shard: no error';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'deparse_for_shard: %', SQLSTATE;
END $$;
SELECT 1 AS still_up;
DROP TABLE ruled;
