-- rollup install script, part 60: native incremental rollups (docs/rollup-engine.md).
-- Written only by the functions below, in raised-privilege blocks; users read rollup.rollups.

CREATE TABLE rollup.rollup (
    rollup_id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    owner oid NOT NULL,                 -- pg_authid oid of the creator
    source regclass NOT NULL,
    target regclass NOT NULL,
    query text NOT NULL,                -- the SELECT as given; analyzed again at every run
    source_key name NOT NULL,           -- the source's distribution column
    time_column name NOT NULL,          -- the source column that is bucketed
    target_key name NOT NULL,           -- the target column fed by source_key
    target_bucket name NOT NULL,        -- the target column fed by the bucket expression
    stride_us bigint NOT NULL,          -- date_bin(stride, ts, origin)
    origin_us bigint NOT NULL,          -- microseconds since 2000-01-01 UTC
    fn regprocedure,                    -- the generated name() function
    frontier timestamptz,               -- buckets below are materialized; NULL before the first run
    created timestamptz NOT NULL DEFAULT now(),
    last_run_start timestamptz,
    last_run_end timestamptz,
    last_rows bigint,
    last_buckets bigint,
    total_rows bigint NOT NULL DEFAULT 0,
    last_error text,
    -- columns above are read by attribute number (src/rollup/invalidations.cpp): add new ones here
    -- the rollup whose target is the source (a rollup of a rollup); a dropped table takes both along
    source_rollup bigint REFERENCES rollup.rollup ON DELETE SET NULL
);

-- Bucket ranges [lo, hi) below the frontier that writes touched after they were materialized.
CREATE TABLE rollup.rollup_invalidation (
    rollup_id bigint NOT NULL REFERENCES rollup.rollup ON DELETE CASCADE,
    shard_index int NOT NULL,
    lo timestamptz NOT NULL,
    hi timestamptz NOT NULL
);
CREATE INDEX rollup_invalidation_idx ON rollup.rollup_invalidation (rollup_id);

-- Real-time views made by rollup.create_realtime_view (dropped with DROP VIEW).
CREATE TABLE rollup.realtime_view (
    view_oid oid PRIMARY KEY,
    rollup_id bigint NOT NULL REFERENCES rollup.rollup ON DELETE CASCADE
);

REVOKE ALL ON rollup.rollup, rollup.rollup_invalidation, rollup.realtime_view FROM PUBLIC;

CREATE VIEW rollup.rollups AS
WITH RECURSIVE chain(rollup_id, level) AS (
    SELECT rollup_id, 1 FROM rollup.rollup WHERE source_rollup IS NULL
    UNION ALL
    SELECT r.rollup_id, c.level + 1 FROM rollup.rollup r JOIN chain c ON r.source_rollup = c.rollup_id
)
SELECT r.name, r.source, r.target, r.frontier,
       now() - r.frontier AS lag,
       (SELECT count(*) FROM rollup.rollup_invalidation i WHERE i.rollup_id = r.rollup_id) AS pending_ranges,
       r.last_run_start, r.last_run_end - r.last_run_start AS last_run_duration,
       r.last_rows, r.last_buckets, r.total_rows, r.last_error,
       pg_catalog.pg_get_userbyid(r.owner) AS owner, r.query,
       (SELECT c.level FROM chain c WHERE c.rollup_id = r.rollup_id) AS level,
       (SELECT s.name FROM rollup.rollup s WHERE s.rollup_id = r.source_rollup) AS source_rollup,
       ARRAY(SELECT v.view_oid::pg_catalog.regclass FROM rollup.realtime_view v
              WHERE v.rollup_id = r.rollup_id
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) v.view_oid)
              ORDER BY v.view_oid) AS realtime_views
  FROM rollup.rollup r
 WHERE pg_catalog.pg_has_role(r.owner, 'USAGE');
GRANT SELECT ON rollup.rollups TO PUBLIC;

CREATE FUNCTION rollup.create_rollup(name text, target regclass, query text) RETURNS void
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_create_rollup';
COMMENT ON FUNCTION rollup.create_rollup(text, regclass, text) IS
    'registers a native incremental rollup of a distributed table into target, and creates name() to run it';
CREATE FUNCTION rollup.run_rollup(name text) RETURNS bigint
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_run_rollup';
COMMENT ON FUNCTION rollup.run_rollup(text) IS
    'runs a rollup now: materializes the complete buckets since its frontier and the ones writes changed; returns rows written';
CREATE FUNCTION rollup.drop_rollup(name text) RETURNS void
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_drop_rollup';
COMMENT ON FUNCTION rollup.drop_rollup(text) IS 'drops a rollup and its generated function (the target table stays)';

-- Real-time views (docs/realtime-views.md).
CREATE FUNCTION rollup.create_realtime_view(rollup_name text, view_name text) RETURNS void
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_create_realtime_view';
COMMENT ON FUNCTION rollup.create_realtime_view(text, text) IS
    'creates a view that is exact at every moment: the rollup''s target below its frontier plus the rollup query over the newer raw rows';
-- What a real-time view reads at the moment of its query (folded into constants once per statement,
-- then sent to the shards): the buckets it computes from the source rather than reading from the
-- target, and the rollup's frontier.
CREATE FUNCTION rollup.realtime_source_buckets(rollup_id bigint) RETURNS pg_catalog.tstzmultirange
    LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'rollup_realtime_source_buckets';
COMMENT ON FUNCTION rollup.realtime_source_buckets(bigint) IS
    'buckets a real-time view computes from the source: at and above the frontier, and the ones writes changed since they were materialized';
CREATE FUNCTION rollup.realtime_frontier(rollup_id bigint) RETURNS timestamptz
    LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'rollup_realtime_frontier';
COMMENT ON FUNCTION rollup.realtime_frontier(bigint) IS
    'the frontier a real-time view reads: buckets below it are materialized; -infinity before the first run';
CREATE FUNCTION rollup.realtime_stale_start(rollup_id bigint) RETURNS timestamptz
    LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'rollup_realtime_stale_start';
COMMENT ON FUNCTION rollup.realtime_stale_start(bigint) IS
    'where the materialized buckets that writes changed since begin (a real-time view computes them from the source); NULL when there are none';
CREATE FUNCTION rollup.realtime_stale_end(rollup_id bigint) RETURNS timestamptz
    LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'rollup_realtime_stale_end';
COMMENT ON FUNCTION rollup.realtime_stale_end(bigint) IS
    'where the materialized buckets that writes changed since end; NULL when there are none';
