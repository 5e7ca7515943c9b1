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
    last_error text
);

-- Bucket ranges [lo, hi) below the frontier that writes touched after they were materialized.
CREATE TABLE rollup.rollup_invalidation (
    rollup_id bigint NOT NULL REFERENCES rollup.rollup ON DELETE CASCADE,
    shard_index int NOT NULL,
    lo timestamptz NOT NULL,
    hi timestamptz NOT NULL
);
CREATE INDEX rollup_invalidation_idx ON rollup.rollup_invalidation (rollup_id);

REVOKE ALL ON rollup.rollup, rollup.rollup_invalidation FROM PUBLIC;

CREATE VIEW rollup.rollups AS
SELECT r.name, r.source, r.target, r.frontier,
       now() - r.frontier AS lag,
       (SELECT count(*) FROM rollup.rollup_invalidation i WHERE i.rollup_id = r.rollup_id) AS pending_ranges,
       r.last_run_start, r.last_run_end - r.last_run_start AS last_run_duration,
       r.last_rows, r.last_buckets, r.total_rows, r.last_error,
       pg_catalog.pg_get_userbyid(r.owner) AS owner, r.query
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
