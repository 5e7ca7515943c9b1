-- rollup install script, part 50: the in-server scheduler and retention policies (docs/scheduler.md).
-- The catalog tables are written only by the functions below and by the scheduler's background
-- workers (which switch to the bootstrap superuser for that); users read them through the views
-- rollup.jobs and rollup.job_runs, which show the rows of the roles whose privileges they have
-- (all rows for superusers).

CREATE TABLE rollup.job (
    jobid bigserial PRIMARY KEY,
    job_name text NOT NULL,
    schedule text NOT NULL,             -- 5-field cron, @shorthand, or an interval ('30 seconds')
    command text NOT NULL,              -- SQL run by the job's owner in its own transaction
    owner oid NOT NULL,                 -- pg_authid oid: the role the command runs as
    database name NOT NULL DEFAULT current_database(),
    active boolean NOT NULL DEFAULT true,
    timeout interval,                   -- NULL: no timeout
    retries int NOT NULL DEFAULT 0 CHECK (retries BETWEEN 0 AND 100),
    retry_backoff interval NOT NULL DEFAULT '1 second',
    retention_of oid,                   -- the table of a job created by rollup.set_retention
    created timestamptz NOT NULL DEFAULT now(),
    changed timestamptz NOT NULL DEFAULT now(),  -- interval schedules count from here
    UNIQUE (owner, job_name)
);

CREATE TABLE rollup.job_run (
    runid bigserial PRIMARY KEY,
    jobid bigint NOT NULL,              -- no foreign key: history outlives rollup.unschedule
    job_name text NOT NULL,
    owner oid NOT NULL,
    attempt int NOT NULL DEFAULT 1,     -- 1 for a scheduled run, 2.. for retries
    status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'timed out')),
    pid int,
    started timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished timestamptz,
    rows bigint,
    message text
);
CREATE INDEX job_run_jobid_idx ON rollup.job_run (jobid, runid);
CREATE INDEX job_run_running_idx ON rollup.job_run (runid) WHERE status = 'running';

CREATE TABLE rollup.retention (
    relid oid PRIMARY KEY,              -- the table (an oid, so that a dropped table does not break reads)
    time_column name NOT NULL,
    keep interval NOT NULL CHECK (keep > '0'),
    jobid bigint NOT NULL
);

REVOKE ALL ON rollup.job, rollup.job_run, rollup.retention FROM PUBLIC;

CREATE VIEW rollup.jobs WITH (security_barrier) AS
SELECT j.jobid, j.job_name, j.schedule, j.command,
       (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = j.owner) AS owner,
       j.database, j.active, j.timeout, j.retries, j.retry_backoff,
       j.retention_of::regclass AS retention_of, j.created, j.changed
  FROM rollup.job j
 WHERE pg_catalog.pg_has_role(j.owner, 'USAGE');

CREATE VIEW rollup.job_runs WITH (security_barrier) AS
SELECT r.runid, r.jobid, r.job_name,
       (SELECT a.rolname FROM pg_catalog.pg_roles a WHERE a.oid = r.owner) AS owner,
       r.attempt, r.status, r.started, r.finished, r.finished - r.started AS duration,
       r.rows, r.message, r.pid
  FROM rollup.job_run r
 WHERE pg_catalog.pg_has_role(r.owner, 'USAGE');

CREATE VIEW rollup.retention_policies WITH (security_barrier) AS
SELECT p.relid::regclass AS "table", p.time_column, p.keep, p.jobid
  FROM rollup.retention p
  JOIN rollup.job j USING (jobid)
 WHERE pg_catalog.pg_has_role(j.owner, 'USAGE');

GRANT SELECT ON rollup.jobs, rollup.job_runs, rollup.retention_policies TO PUBLIC;

-- Schedules `command` as `job_name` of the current user; the same name again updates that job.
-- NULL options keep their current value (for a new job: no timeout, no retries, 1 second backoff).
CREATE FUNCTION rollup.schedule(job_name text, schedule text, command text,
                                timeout interval DEFAULT NULL, retries int DEFAULT NULL,
                                retry_backoff interval DEFAULT NULL)
RETURNS bigint LANGUAGE C AS 'MODULE_PATHNAME', 'rollup_schedule';

CREATE FUNCTION rollup.alter_job(job_name text, schedule text DEFAULT NULL, command text DEFAULT NULL,
                                 active boolean DEFAULT NULL, timeout interval DEFAULT NULL,
                                 retries int DEFAULT NULL, retry_backoff interval DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'rollup_alter_job';

CREATE FUNCTION rollup.unschedule(job_name text)
RETURNS boolean LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_unschedule';

CREATE FUNCTION rollup.unschedule(jobid bigint)
RETURNS boolean LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_unschedule_id';

-- Retention: rows of `table` whose `time_column` is older than now() - keep are deleted each minute
-- by the job 'expire <table>' (owned by the caller), or now by rollup.expire(table).
CREATE FUNCTION rollup.set_retention("table" regclass, time_column name, keep interval)
RETURNS void LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_set_retention';

CREATE FUNCTION rollup.remove_retention("table" regclass)
RETURNS boolean LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_remove_retention';

-- Deletes the expired rows now, in batches, inside the caller's transaction; returns how many.
CREATE FUNCTION rollup.expire("table" regclass)
RETURNS bigint LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_expire';

-- What the retention job runs: like rollup.expire, but commits after every batch when CALLed
-- outside a transaction block, so that row locks and snapshots stay short.
CREATE PROCEDURE rollup.run_retention("table" regclass)
LANGUAGE C AS 'MODULE_PATHNAME', 'rollup_run_retention';
