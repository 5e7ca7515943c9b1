--
-- create_distributed_table: the tutorial's schema and calls, verbatim, then what they did on every
-- node; rows already in a table; co-location; shard_count and the rollup.shard_count setting.
--
-- Workers are reached with dblink to check the shards themselves, not only our metadata.
-- pg_temp.worker(n) is the connection string of worker_<n>; nodes are shown by name (ports change
-- from run to run).
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
CREATE FUNCTION pg_temp.worker(n int) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT format('host=127.0.0.1 port=%s dbname=%s user=postgres',
                  current_setting('regress.worker_' || n || '_port'), current_database())
$$;
CREATE FUNCTION pg_temp.node_name(port int) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE port
        WHEN current_setting('regress.worker_1_port')::int THEN 'worker_1'
        WHEN current_setting('regress.worker_2_port')::int THEN 'worker_2'
        ELSE 'other' END
$$;
-- Shard ids are taken from rollup.next_shard_id when it is set (here: so the output is stable).
SET rollup.next_shard_id TO 102008;

-- The tutorial, verbatim.
CREATE TABLE http_request (
  site_id INT,
  ingest_time TIMESTAMPTZ DEFAULT now(),

  url TEXT,
  request_country TEXT,
  ip_address TEXT,

  status_code INT,
  response_time_msec INT
);

CREATE TABLE http_request_1min (
  site_id INT,
  ingest_time TIMESTAMPTZ, -- which minute this row represents

  error_count INT,
  success_count INT,
  request_count INT,
  average_response_time_msec INT,
  CHECK (request_count = error_count + success_count),
  CHECK (ingest_time = date_trunc('minute', ingest_time))
);

CREATE INDEX http_request_1min_idx ON http_request_1min (site_id, ingest_time);

CREATE TABLE latest_rollup (
  minute timestamptz PRIMARY KEY,

  CHECK (minute = date_trunc('minute', minute))
);

SELECT create_distributed_table('http_request',      'site_id');
SELECT create_distributed_table('http_request_1min', 'site_id');

-- Both tables: hash-distributed by site_id into 32 shards (the default) over both workers, in one
-- co-location group (same column type, same shard count). latest_rollup stays a local table.
SELECT table_name, distribution_column, column_type, shard_count, node_count
  FROM rollup.tables ORDER BY table_name;
SELECT count(DISTINCT colocation_id) AS colocation_groups FROM rollup.tables;
SELECT rollup.is_distributed('http_request') AS http_request,
       rollup.is_distributed('latest_rollup') AS latest_rollup;
SHOW rollup.next_shard_id;

-- The shards of http_request: consecutive ids, equal hash ranges covering the whole int32 space,
-- round-robin over the workers (a shard's table is named <table>_<shard id>).
SELECT shardid, shard_index, shard_name, hash_min, hash_max, pg_temp.node_name(port) AS node
  FROM rollup.shards WHERE table_name = 'http_request'::regclass ORDER BY shard_index;
SELECT table_name, pg_temp.node_name(port) AS node, count(*) AS shards
  FROM rollup.shards GROUP BY 1, 2 ORDER BY 1, 2;
-- Ranges are contiguous, without gap or overlap, from -2^31 to 2^31-1 (for both tables).
SELECT table_name, min(hash_min) AS lowest, max(hash_max) AS highest,
       bool_and(hash_min = coalesce(prev_max + 1, hash_min)) AS contiguous
  FROM (SELECT table_name, hash_min, hash_max,
               lag(hash_max) OVER (PARTITION BY table_name ORDER BY shard_index)::bigint AS prev_max
          FROM rollup.shards) s
 GROUP BY table_name ORDER BY table_name;
-- Co-location: shard i of both tables has the same hash range on the same node.
SELECT count(*) AS shard_pairs,
       count(*) FILTER (WHERE a.hash_min = b.hash_min AND a.hash_max = b.hash_max
                          AND a.nodeid = b.nodeid) AS colocated_pairs
  FROM rollup.shards a JOIN rollup.shards b USING (shard_index)
 WHERE a.table_name = 'http_request'::regclass AND b.table_name = 'http_request_1min'::regclass;

-- On the workers: every shard exists, where the metadata says.
SELECT s.table_name, count(*) AS shards,
       count(*) FILTER (WHERE w.relname IS NOT NULL) AS found_on_their_node
  FROM rollup.shards s
  LEFT JOIN (SELECT n, t.relname
               FROM generate_series(1, 2) AS n,
                    LATERAL dblink(pg_temp.worker(n),
                                   $$SELECT relname FROM pg_class WHERE relkind = 'r'
                                       AND relnamespace = 'public'::regnamespace$$) AS t(relname name)) w
         ON w.relname = split_part(s.shard_name, '.', 2) AND pg_temp.node_name(s.port) = 'worker_' || w.n
 GROUP BY 1 ORDER BY 1;

-- Every shard of http_request_1min carries both CHECK constraints and the index (shard names in the
-- definitions replaced by <shard>): all 32 shards have exactly these.
SELECT definition, count(*) AS shards
  FROM (SELECT n, t.*
          FROM generate_series(1, 2) AS n,
               LATERAL dblink(pg_temp.worker(n), $$
                   SELECT c.relname, 'CONSTRAINT ' || pg_get_constraintdef(k.oid)
                     FROM pg_class c JOIN pg_constraint k ON k.conrelid = c.oid
                    WHERE c.relname LIKE 'http\_request\_1min\_%'
                   UNION ALL
                   SELECT c.relname, replace(replace(i.indexdef, i.indexname, '<index>'), c.relname, '<shard>')
                     FROM pg_class c JOIN pg_indexes i ON i.tablename = c.relname
                    WHERE c.relname LIKE 'http\_request\_1min\_%'
               $$) AS t(shard name, definition text)) d
 GROUP BY definition ORDER BY definition;
-- The index keeps its name, suffixed with the shard id like the shard itself.
SELECT t.*
  FROM dblink(pg_temp.worker(1), $$
           SELECT indexname, tablename FROM pg_indexes WHERE tablename = 'http_request_1min_102040'
       $$) AS t(indexname name, tablename name);

-- Columns, types and defaults of a shard of http_request: those of the table (ingest_time keeps
-- DEFAULT now()).
SELECT t.*
  FROM dblink(pg_temp.worker(1), $$
           SELECT a.attname, format_type(a.atttypid, a.atttypmod), pg_get_expr(d.adbin, d.adrelid),
                  a.attnotnull
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = 'http_request_102008'::regclass AND a.attnum > 0
            ORDER BY a.attnum
       $$) AS t(column_name name, type text, "default" text, not_null boolean);

-- The shell tables on the coordinator stay as the user created them (and empty).
\d http_request_1min

--
-- A table that already holds rows: every row is moved to the shard whose hash range holds the
-- hash of its distribution value, none is lost, changed or duplicated, and the coordinator's table
-- is left empty.
--
CREATE TABLE prefilled (
    site_id int NOT NULL,
    ingest_time timestamptz NOT NULL,
    payload text
);
INSERT INTO prefilled
SELECT i % 1000 - 500, '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 second', md5(i::text)
  FROM generate_series(1, 10000) AS i;
-- values at the ends of the int range, and one row with a NULL in a non-distribution column
INSERT INTO prefilled VALUES (-2147483648, '2024-01-02', 'min'), (2147483647, '2024-01-02', 'max'),
                             (0, '2024-01-03', NULL);
CREATE TABLE prefilled_copy AS SELECT * FROM prefilled;
SELECT count(*) AS rows_before FROM prefilled;

SET rollup.next_shard_id TO 103000;
SELECT create_distributed_table('prefilled', 'site_id');

-- What rollup.shard_stats reports (row count of every shard, asked of the nodes):
SELECT count(*) AS shards, sum(row_count) AS rows, count(*) FILTER (WHERE row_count = 0) AS empty_shards
  FROM rollup.shard_stats('prefilled');
-- What the shards hold, read through dblink, shard by shard: every row is in the shard whose range
-- holds hashint4(site_id), the hash function of int's hash operator class.
CREATE TEMP TABLE prefilled_on_workers AS
SELECT s.shardid, s.hash_min, s.hash_max, r.*
  FROM rollup.shards s,
       LATERAL dblink(pg_temp.worker(substr(pg_temp.node_name(s.port), 8)::int),
                      format('SELECT site_id, ingest_time, payload, hashint4(site_id) FROM %s',
                             s.shard_name))
           AS r(site_id int, ingest_time timestamptz, payload text, hash int)
 WHERE s.table_name = 'prefilled'::regclass;
SELECT count(*) AS rows_on_workers,
       count(*) FILTER (WHERE hash BETWEEN hash_min AND hash_max) AS rows_in_their_shard
  FROM prefilled_on_workers;
-- The rows per shard agree with rollup.shard_stats.
SELECT count(*) AS shards_that_agree
  FROM (SELECT shardid, count(*) AS n FROM prefilled_on_workers GROUP BY 1) w
  JOIN rollup.shard_stats('prefilled') st USING (shardid)
 WHERE st.row_count = w.n;
-- Same rows as before, as a multiset (each difference is listed; none expected).
(SELECT site_id, ingest_time, payload FROM prefilled_copy
 EXCEPT ALL
 SELECT site_id, ingest_time, payload FROM prefilled_on_workers)
UNION ALL
(SELECT site_id, ingest_time, payload FROM prefilled_on_workers
 EXCEPT ALL
 SELECT site_id, ingest_time, payload FROM prefilled_copy);
-- The hash decides, not the value: the ends of the int range land wherever their hashes fall.
SELECT site_id, hash, hash_min, hash_max, shardid FROM prefilled_on_workers
 WHERE site_id IN (-2147483648, 2147483647) ORDER BY site_id;
-- rollup.shard_for_value agrees with where the rows are.
SELECT count(*) AS distinct_values,
       count(*) FILTER (WHERE rollup.shard_for_value('prefilled', site_id::text) = shardid) AS agree
  FROM (SELECT DISTINCT site_id, shardid FROM prefilled_on_workers) v;
-- The coordinator's table keeps no row: pgstattuple counts the live tuples in its heap directly
-- (a SELECT on a distributed table would read the shards instead).
CREATE EXTENSION IF NOT EXISTS pgstattuple;
SELECT tuple_count AS live_rows_in_shell FROM pgstattuple('prefilled');
DROP TABLE prefilled_on_workers, prefilled_copy;

--
-- Co-location.
--
-- The default: a table with the same distribution column type and shard count joins the existing
-- group (prefilled joined the group of the tutorial's tables).
SELECT count(DISTINCT colocation_id) AS colocation_groups FROM rollup.tables;
-- colocate_with => 'none' starts a new group, even for the same type and shard count.
SET rollup.next_shard_id TO 104000;
CREATE TABLE colo_none (id int);
SELECT create_distributed_table('colo_none', 'id', colocate_with => 'none');
SELECT table_name, shard_count,
       colocation_id = (SELECT colocation_id FROM rollup.tables WHERE table_name = 'http_request'::regclass)
       AS colocated_with_http_request
  FROM rollup.tables WHERE table_name = 'colo_none'::regclass;
-- colocate_with => a distributed table: same group as that table (here colo_none, not the default
-- group), same ranges on the same nodes; the shard count is taken from that table when not given.
CREATE TABLE colo_follower (id int, note text);
SELECT create_distributed_table('colo_follower', 'id', colocate_with => 'colo_none');
SELECT a.table_name, b.table_name AS follows, a.colocation_id = b.colocation_id AS same_group,
       a.shard_count
  FROM rollup.tables a, rollup.tables b
 WHERE a.table_name = 'colo_follower'::regclass AND b.table_name = 'colo_none'::regclass;
SELECT count(*) AS colocated_pairs
  FROM rollup.shards a JOIN rollup.shards b USING (shard_index, hash_min, hash_max, nodeid)
 WHERE a.table_name = 'colo_follower'::regclass AND b.table_name = 'colo_none'::regclass;
-- Another column type (bigint, text) or another shard count is another group.
CREATE TABLE colo_bigint (id bigint);
SELECT create_distributed_table('colo_bigint', 'id');
CREATE TABLE colo_16 (id int);
SELECT create_distributed_table('colo_16', 'id', 16);
CREATE TABLE colo_16_too (id int);
SELECT create_distributed_table('colo_16_too', 'id', 16);
SELECT table_name, column_type, shard_count,
       dense_rank() OVER (ORDER BY colocation_id) AS colocation_group
  FROM rollup.tables ORDER BY colocation_group, table_name;
DROP TABLE colo_none, colo_follower, colo_bigint, colo_16, colo_16_too;

--
-- shard_count: the argument, else the rollup.shard_count setting (32 by default).
--
SHOW rollup.shard_count;
SET rollup.next_shard_id TO 105000;
CREATE TABLE four_shards (id int, v text);
SELECT create_distributed_table('four_shards', 'id', 4);
SELECT shardid, shard_index, hash_min, hash_max, pg_temp.node_name(port) AS node
  FROM rollup.shards WHERE table_name = 'four_shards'::regclass ORDER BY shard_index;
CREATE TABLE one_shard (id int);
SELECT create_distributed_table('one_shard', 'id', shard_count => 1);
SELECT shard_index, hash_min, hash_max FROM rollup.shards WHERE table_name = 'one_shard'::regclass;
-- an uneven split: the last shard takes the remainder
CREATE TABLE three_shards (id int);
SELECT create_distributed_table('three_shards', 'id', 3);
SELECT shard_index, hash_min, hash_max, hash_max::bigint - hash_min + 1 AS width
  FROM rollup.shards WHERE table_name = 'three_shards'::regclass ORDER BY shard_index;
SET rollup.shard_count TO 8;
CREATE TABLE eight_shards (id int);
SELECT create_distributed_table('eight_shards', 'id');
RESET rollup.shard_count;
SELECT table_name, shard_count FROM rollup.tables
 WHERE table_name IN ('four_shards'::regclass, 'one_shard'::regclass, 'three_shards'::regclass,
                      'eight_shards'::regclass)
 ORDER BY shard_count;
-- a text distribution column uses hashtext (with the column's collation)
CREATE TABLE by_text (name text, n int);
INSERT INTO by_text SELECT 'name ' || i, i FROM generate_series(1, 100) AS i;
SELECT create_distributed_table('by_text', 'name', 4);
SELECT table_name, column_type, shard_count FROM rollup.tables WHERE table_name = 'by_text'::regclass;
SELECT count(*) AS rows_on_workers,
       count(*) FILTER (WHERE r.hash BETWEEN s.hash_min AND s.hash_max) AS rows_in_their_shard
  FROM rollup.shards s,
       LATERAL dblink(pg_temp.worker(substr(pg_temp.node_name(s.port), 8)::int),
                      format('SELECT hashtext(name) FROM %s', s.shard_name)) AS r(hash int)
 WHERE s.table_name = 'by_text'::regclass;
DROP TABLE four_shards, one_shard, three_shards, eight_shards, by_text;

-- DROP TABLE takes the shards with it (see also undistribute.sql).
DROP TABLE http_request, http_request_1min, latest_rollup, prefilled;
SELECT count(*) AS tables_left FROM rollup.tables;
SELECT n, t.*
  FROM generate_series(1, 2) AS n,
       LATERAL dblink(pg_temp.worker(n), $$SELECT count(*) FROM pg_class
                                            WHERE relnamespace = 'public'::regnamespace$$) AS t(relations bigint)
 ORDER BY n;
RESET rollup.next_shard_id;
DROP EXTENSION dblink;
DROP EXTENSION pgstattuple;
