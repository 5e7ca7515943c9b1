-- The in-server scheduler: rollup.schedule / alter_job / unschedule, rollup.jobs / job_runs, and
-- retention (rollup.set_retention / expire). Waits are bounded polls, and every check prints a
-- boolean or a count, so the output does not depend on timing.

-- The scheduler runs the jobs of rollup.scheduler_database: point it here for this test.
ALTER SYSTEM SET rollup.scheduler_database = 'regression';
SELECT pg_reload_conf();

CREATE SCHEMA sched_test;
-- Polls `condition` every 0.1 s for up to `seconds`; true as soon as it holds.
CREATE FUNCTION sched_test.wait_until(condition text, seconds int DEFAULT 30) RETURNS boolean
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

SELECT sched_test.wait_until($$EXISTS (SELECT 1 FROM pg_stat_activity
    WHERE backend_type = 'rollup scheduler' AND datname = current_database())$$) AS scheduler_running;

-- Bad schedules say exactly what is wrong.
SELECT rollup.schedule('bad', '61 * * * *', 'SELECT 1');
SELECT rollup.schedule('bad', '* * * *', 'SELECT 1');
SELECT rollup.schedule('bad', '*/0 * * * *', 'SELECT 1');
SELECT rollup.schedule('bad', '0 0 30 feb *', 'SELECT 1');
SELECT rollup.schedule('bad', '* * * * funday', 'SELECT 1');
SELECT rollup.schedule('bad', '0 seconds', 'SELECT 1');
SELECT rollup.schedule('bad', '10 fortnights', 'SELECT 1');
SELECT rollup.schedule('bad', '@reboot', 'SELECT 1');
SELECT rollup.schedule('bad', '1 second', '');
SELECT rollup.schedule('bad', '1 second', 'SELECT 1', retries => -1);
SELECT rollup.schedule(NULL, '1 second', 'SELECT 1');
SELECT count(*) AS no_bad_job FROM rollup.jobs WHERE job_name = 'bad';

-- Runs happen and are recorded.
CREATE TABLE sched_test.ticks (at timestamptz DEFAULT clock_timestamp());
SELECT rollup.schedule('tick', '1 second', 'INSERT INTO sched_test.ticks DEFAULT VALUES') AS tick_id \gset
SELECT schedule, command, active, timeout IS NULL AS no_timeout, retries
  FROM rollup.jobs WHERE jobid = :tick_id;
SELECT sched_test.wait_until($$(SELECT count(*) FROM rollup.job_runs
    WHERE job_name = 'tick' AND status = 'succeeded') >= 3$$) AS tick_ran;
SELECT bool_and(rows = 1 AND message IS NULL AND finished >= started AND attempt = 1) AS runs_recorded,
       (SELECT count(*) FROM sched_test.ticks) >= 3 AS rows_inserted
  FROM rollup.job_runs WHERE job_name = 'tick' AND status = 'succeeded';
-- Scheduling the same name again updates the job (same jobid).
SELECT rollup.schedule('tick', '1 second', 'INSERT INTO sched_test.ticks VALUES (clock_timestamp())') = :tick_id
       AS same_job;
SELECT command FROM rollup.jobs WHERE job_name = 'tick';

-- A failing job records its error; the others go on.
SELECT rollup.schedule('fail', '1 second', 'SELECT 1/0') AS fail_id \gset
SELECT sched_test.wait_until($$(SELECT count(*) FROM rollup.job_runs WHERE job_name = 'fail') >= 2$$)
       AS fail_ran;
SELECT DISTINCT status, rows, message FROM rollup.job_runs WHERE job_name = 'fail' AND status <> 'running';
SELECT max(runid) AS fail_seen FROM rollup.job_runs WHERE job_name = 'fail' \gset
SELECT sched_test.wait_until($$(SELECT count(*) FROM rollup.job_runs
    WHERE job_name = 'tick' AND status = 'succeeded' AND runid > $$ || :fail_seen || ') >= 2')
       AS tick_still_runs;
SELECT rollup.unschedule('fail');

-- No overlap: a job still running at its next tick is not started again; the tick is 'skipped'.
SELECT rollup.schedule('slow', '1 second', 'SELECT pg_sleep(2.5)') IS NOT NULL AS scheduled;
SELECT sched_test.wait_until($$EXISTS (SELECT 1 FROM rollup.job_runs WHERE job_name = 'slow' AND status = 'succeeded')
    AND EXISTS (SELECT 1 FROM rollup.job_runs WHERE job_name = 'slow' AND status = 'skipped')$$)
       AS slow_skipped;
SELECT rollup.unschedule('slow');
SELECT count(*) AS overlapping_runs
  FROM rollup.job_runs a JOIN rollup.job_runs b ON a.runid < b.runid
 WHERE a.job_name = 'slow' AND b.job_name = 'slow'
   AND a.status <> 'skipped' AND b.status <> 'skipped'
   AND tstzrange(a.started, coalesce(a.finished, 'infinity')) && tstzrange(b.started, coalesce(b.finished, 'infinity'));
SELECT DISTINCT status, message ~ '^the previous run \(runid \d+\) is still running$' AS says_why
  FROM rollup.job_runs WHERE job_name = 'slow' AND status = 'skipped';

-- Timeout: the run is cancelled and recorded as 'timed out'.
SELECT rollup.schedule('sleepy', '1 second', 'SELECT pg_sleep(30)', timeout => '300 ms') IS NOT NULL AS scheduled;
SELECT sched_test.wait_until($$EXISTS (SELECT 1 FROM rollup.job_runs
    WHERE job_name = 'sleepy' AND status = 'timed out')$$) AS timed_out;
SELECT rollup.unschedule('sleepy');
SELECT DISTINCT status, message, duration < interval '10 seconds' AS cut_short
  FROM rollup.job_runs WHERE job_name = 'sleepy' AND status = 'timed out';

-- Retries with backoff: attempts 2 and 3 follow a failure (0.1 s, then 0.2 s later), well before
-- the next tick.
SELECT rollup.schedule('flaky', '3 seconds', 'SELECT 1/0', retries => 2, retry_backoff => '100 ms') AS flaky_id \gset
SELECT retries, retry_backoff FROM rollup.jobs WHERE jobid = :flaky_id;
SELECT sched_test.wait_until($$EXISTS (SELECT 1 FROM rollup.job_runs WHERE job_name = 'flaky' AND attempt = 3
    AND status = 'failed')$$) AS retried;
SELECT rollup.unschedule('flaky');
SELECT attempt, status, message FROM rollup.job_runs WHERE job_name = 'flaky' ORDER BY runid LIMIT 3;
SELECT max(attempt) AS max_attempt FROM rollup.job_runs WHERE job_name = 'flaky';

-- alter_job changes a job in place; unschedule stops it.
SELECT rollup.alter_job('tick', active => false);
SELECT active FROM rollup.jobs WHERE job_name = 'tick';
SELECT rollup.alter_job('tick', schedule => '2 seconds', active => true, timeout => '1 minute');
SELECT schedule, active, timeout FROM rollup.jobs WHERE job_name = 'tick';
SELECT rollup.alter_job('tick', schedule => 'every day');
SELECT rollup.alter_job('nosuchjob', active => false);
SELECT rollup.unschedule('tick');
SELECT pg_sleep(1.5);
SELECT coalesce(max(runid), 0) AS tick_last FROM rollup.job_runs WHERE job_name = 'tick' \gset
SELECT pg_sleep(2.5);
SELECT count(*) AS runs_after_unschedule FROM rollup.job_runs WHERE job_name = 'tick' AND runid > :tick_last;
SELECT count(*) AS tick_jobs FROM rollup.jobs WHERE job_name = 'tick';
SELECT rollup.unschedule('tick');

-- Jobs belong to their owner: they run as the owner, and only the owner (or a superuser) may change
-- them; users see only their own jobs and runs.
CREATE ROLE sched_alice LOGIN;
CREATE ROLE sched_bob LOGIN;
GRANT USAGE ON SCHEMA sched_test TO sched_alice, sched_bob;
CREATE TABLE sched_test.who (current_role_name name, session_role_name name);
GRANT INSERT ON sched_test.who TO sched_alice;
SET ROLE sched_alice;
SELECT rollup.schedule('whoami', '1 second', 'INSERT INTO sched_test.who VALUES (current_user, session_user)')
       AS alice_job \gset
RESET ROLE;
SELECT sched_test.wait_until($$EXISTS (SELECT 1 FROM sched_test.who)$$) AS alice_job_ran;
SELECT DISTINCT current_role_name, session_role_name FROM sched_test.who;
SET ROLE sched_bob;
SELECT count(*) AS jobs_bob_sees FROM rollup.jobs;
SELECT count(*) AS runs_bob_sees FROM rollup.job_runs;
SELECT rollup.unschedule('whoami');
\echo :LAST_ERROR_SQLSTATE
SELECT rollup.alter_job('whoami', active => false);
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY sqlstate
SELECT rollup.unschedule(:alice_job);
\set VERBOSITY default
-- Bob may use the same name for his own job.
SELECT rollup.schedule('whoami', '1 hour', 'SELECT 1') <> :alice_job AS own_job;
SELECT job_name, owner FROM rollup.jobs;
SELECT rollup.unschedule('whoami');
RESET ROLE;
SET ROLE sched_alice;
SELECT job_name, owner, active FROM rollup.jobs;
SELECT count(*) > 0 AS alice_sees_her_runs, bool_and(owner = 'sched_alice') AS only_hers FROM rollup.job_runs;
RESET ROLE;
-- A superuser may change anyone's job.
SELECT rollup.unschedule('whoami');
SELECT count(*) AS alice_jobs FROM rollup.jobs WHERE owner = 'sched_alice';

-- Retention: rollup.expire deletes exactly the rows older than the window, in batches.
CREATE TABLE sched_test.events (id int, at timestamptz NOT NULL);
INSERT INTO sched_test.events SELECT i, now() - interval '2 days' - i * interval '1 second' FROM generate_series(1, 25000) i;
INSERT INTO sched_test.events SELECT i, now() - interval '23 hours' FROM generate_series(1, 7) i;
SELECT rollup.expire('sched_test.events');
SELECT rollup.set_retention('sched_test.events', 'nope', '1 day');
SELECT rollup.set_retention('sched_test.events', 'id', '1 day');
SELECT rollup.set_retention('sched_test.events', 'at', '-1 day');
-- Its job is paused in the same transaction (so the scheduler never sees it active): at a minute
-- boundary it would otherwise expire the rows before the rollup.expire checks below.
BEGIN;
SELECT rollup.set_retention('sched_test.events', 'at', '1 day');
SELECT rollup.alter_job('expire sched_test.events', active => false);
COMMIT;
SELECT "table", time_column, keep FROM rollup.retention_policies;
SELECT job_name, schedule, command, retention_of FROM rollup.jobs WHERE retention_of IS NOT NULL;
SET ROLE sched_bob;
SELECT rollup.expire('sched_test.events');
RESET ROLE;
SELECT rollup.expire('sched_test.events') AS expired;
SELECT count(*) AS kept, bool_and(at > now() - interval '1 day') AS all_recent FROM sched_test.events;
SELECT rollup.expire('sched_test.events') AS expired_again;
-- The policy's job (every minute by default) runs the same expiry through the scheduler, committing
-- after each batch; its runs record the rows deleted.
INSERT INTO sched_test.events SELECT i, now() - interval '3 days' FROM generate_series(1, 12345) i;
CALL rollup.run_retention('sched_test.events');
SELECT count(*) AS kept_after_call FROM sched_test.events;
INSERT INTO sched_test.events SELECT i, now() - interval '3 days' FROM generate_series(1, 12345) i;
SELECT rollup.alter_job('expire sched_test.events', schedule => '1 second', active => true);
SELECT sched_test.wait_until($$EXISTS (SELECT 1 FROM rollup.job_runs
    WHERE job_name = 'expire sched_test.events' AND status = 'succeeded' AND rows = 12345)$$) AS expired_by_job;
SELECT count(*) AS kept_after_job FROM sched_test.events;
SELECT rollup.remove_retention('sched_test.events');
SELECT count(*) AS policies, (SELECT count(*) FROM rollup.jobs) AS jobs FROM rollup.retention_policies;

-- Clean up.
DROP SCHEMA sched_test CASCADE;
DROP ROLE sched_alice, sched_bob;
DELETE FROM rollup.job_run;
ALTER SYSTEM RESET rollup.scheduler_database;
SELECT pg_reload_conf();
