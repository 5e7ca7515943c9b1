-- rollup install script, part 0: the metadata catalog.
-- (src/sql/install/*.sql are concatenated in name order into rollup--0.1.sql)
\echo Use "CREATE EXTENSION rollup" to load this file. \quit

CREATE SCHEMA rollup;
GRANT USAGE ON SCHEMA rollup TO PUBLIC;

-- Worker servers (stock PostgreSQL). The coordinator appears here as a node only when it holds
-- shards (single-node mode: no worker was added when a table was distributed).
CREATE TABLE rollup.node (
    nodeid serial PRIMARY KEY,
    host text NOT NULL,
    port int NOT NULL CHECK (port BETWEEN 1 AND 65535),
    is_coordinator boolean NOT NULL DEFAULT false,
    added timestamptz NOT NULL DEFAULT now(),
    UNIQUE (host, port)
);

-- Groups of tables whose shards share hash ranges and placements.
CREATE TABLE rollup.colocation (
    colocationid serial PRIMARY KEY,
    shard_count int NOT NULL,
    dist_type regtype NOT NULL,
    dist_collation oid NOT NULL
);

CREATE TABLE rollup.dist_table (
    logicalrelid regclass PRIMARY KEY,
    dist_column name NOT NULL,
    dist_attnum int2 NOT NULL,
    dist_type regtype NOT NULL,
    hash_func regproc NOT NULL,
    shard_count int NOT NULL,
    colocationid int NOT NULL REFERENCES rollup.colocation
);

CREATE SEQUENCE rollup.shardid_seq START 102008;

CREATE TABLE rollup.shard (
    shardid bigint PRIMARY KEY,
    logicalrelid regclass NOT NULL,
    shard_index int NOT NULL,
    hash_min int NOT NULL,
    hash_max int NOT NULL,
    UNIQUE (logicalrelid, shard_index)
);

-- One placement per shard (no replication): the node that stores it.
CREATE TABLE rollup.placement (
    shardid bigint PRIMARY KEY REFERENCES rollup.shard ON DELETE CASCADE,
    nodeid int NOT NULL REFERENCES rollup.node
);
CREATE INDEX placement_nodeid_idx ON rollup.placement (nodeid);

-- Two-phase commit records: a gid recorded here was prepared by a transaction that committed on
-- the coordinator, so recovery commits it; a prepared gid of ours without a record is rolled back.
CREATE TABLE rollup.prepared_xact (
    gid text PRIMARY KEY,
    nodeid int NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON rollup.node, rollup.colocation, rollup.dist_table, rollup.shard, rollup.placement,
    rollup.prepared_xact FROM PUBLIC;
GRANT SELECT ON rollup.node, rollup.colocation, rollup.dist_table, rollup.shard, rollup.placement
    TO PUBLIC;

CREATE FUNCTION rollup.shard_name(shardid bigint) RETURNS text
    LANGUAGE C STRICT STABLE AS 'MODULE_PATHNAME', 'rollup_shard_name';
COMMENT ON FUNCTION rollup.shard_name(bigint) IS
    'schema-qualified, quoted name of the table that stores a shard on its node';

CREATE VIEW rollup.nodes AS
SELECT n.nodeid, n.host, n.port, n.is_coordinator,
       (SELECT count(*) FROM rollup.placement p WHERE p.nodeid = n.nodeid) AS shard_count,
       n.added
  FROM rollup.node n;

CREATE VIEW rollup.tables AS
SELECT d.logicalrelid AS table_name, d.dist_column AS distribution_column, d.dist_type AS column_type,
       d.shard_count, d.colocationid AS colocation_id,
       (SELECT count(DISTINCT p.nodeid) FROM rollup.shard s JOIN rollup.placement p USING (shardid)
         WHERE s.logicalrelid = d.logicalrelid) AS node_count
  FROM rollup.dist_table d;

CREATE VIEW rollup.shards AS
SELECT s.logicalrelid AS table_name, s.shardid, s.shard_index, rollup.shard_name(s.shardid) AS shard_name,
       s.hash_min, s.hash_max, p.nodeid, n.host, n.port
  FROM rollup.shard s JOIN rollup.placement p USING (shardid) JOIN rollup.node n USING (nodeid);
GRANT SELECT ON rollup.nodes, rollup.tables, rollup.shards TO PUBLIC;

CREATE FUNCTION rollup.shard_stats(table_name regclass,
    OUT shardid bigint, OUT nodeid int, OUT row_count bigint, OUT size_bytes bigint)
    RETURNS SETOF record LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_shard_stats';
COMMENT ON FUNCTION rollup.shard_stats(regclass) IS
    'row count and on-disk size of every shard of a distributed table, asked of all nodes in parallel';

CREATE FUNCTION rollup.add_node(host text, port int) RETURNS int
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_add_node';
COMMENT ON FUNCTION rollup.add_node(text, int) IS
    'adds a worker (a stock PostgreSQL server reachable from the coordinator); returns its node id';

CREATE FUNCTION rollup.remove_node(host text, port int) RETURNS void
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_remove_node';
COMMENT ON FUNCTION rollup.remove_node(text, int) IS
    'removes a worker; refused while it holds shard placements';

CREATE FUNCTION create_distributed_table(table_name regclass, distribution_column text,
    shard_count int DEFAULT NULL, colocate_with text DEFAULT 'default') RETURNS void
    LANGUAGE C CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'rollup_create_distributed_table';
COMMENT ON FUNCTION create_distributed_table(regclass, text, int, text) IS
    'hash-distributes a table over shards (default: rollup.shard_count of them) by a column, moving its rows';

CREATE FUNCTION undistribute_table(table_name regclass) RETURNS void
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_undistribute_table';
COMMENT ON FUNCTION undistribute_table(regclass) IS
    'brings the rows of a distributed table back into the local table and drops its shards';

CREATE FUNCTION rollup.is_distributed(table_name regclass) RETURNS boolean
    LANGUAGE C STRICT STABLE AS 'MODULE_PATHNAME', 'rollup_is_distributed';
COMMENT ON FUNCTION rollup.is_distributed(regclass) IS 'whether a table is hash-distributed';

CREATE FUNCTION rollup.shard_for_value(table_name regclass, value text) RETURNS bigint
    LANGUAGE C STRICT STABLE AS 'MODULE_PATHNAME', 'rollup_shard_for_value';
COMMENT ON FUNCTION rollup.shard_for_value(regclass, text) IS
    'the shard id that stores rows whose distribution column equals value (given as text)';

CREATE FUNCTION rollup.recover_prepared_transactions() RETURNS int
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_recover_prepared_transactions';
COMMENT ON FUNCTION rollup.recover_prepared_transactions() IS
    'commits or rolls back the prepared transactions a crash left on the nodes; returns how many it resolved';

CREATE FUNCTION rollup.drop_trigger() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'rollup_drop_trigger';
CREATE EVENT TRIGGER rollup_drop_shards ON sql_drop EXECUTE FUNCTION rollup.drop_trigger();

-- Test support: raises a PostgreSQL error below C++ frames, or throws a C++ exception, to prove
-- that the boundary turns both into proper errors (see sql/boundary.sql).
CREATE FUNCTION rollup.test_error(kind text) RETURNS void
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_test_error';
COMMENT ON FUNCTION rollup.test_error(text) IS
    'test support: raises an error of the given kind (pg, cpp, std, unknown, remote)';
CREATE FUNCTION rollup.open_connection_count() RETURNS int
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'rollup_open_connection_count';
COMMENT ON FUNCTION rollup.open_connection_count() IS
    'number of node connections this backend holds in its pool';
REVOKE ALL ON FUNCTION rollup.test_error(text) FROM PUBLIC;

CREATE FUNCTION rollup.deparse_for_shard(query text, shard_index int) RETURNS text
    LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'rollup_deparse_for_shard';
REVOKE ALL ON FUNCTION rollup.deparse_for_shard(text, int) FROM PUBLIC;
COMMENT ON FUNCTION rollup.deparse_for_shard(text, int) IS
    'the SQL text one shard (by index) receives for a statement, with stable functions folded: for tests and debugging';
