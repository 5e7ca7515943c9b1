--
-- Single-node mode: with no worker, create_distributed_table puts every shard on the coordinator
-- itself (it appears in rollup.nodes with is_coordinator), and rows are moved into those shards.
-- The workers are removed first (they hold nothing: no table is distributed at this point) and
-- added back at the end.
--
CREATE FUNCTION pg_temp.node_name(port int) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE port
        WHEN current_setting('regress.worker_1_port')::int THEN 'worker_1'
        WHEN current_setting('regress.worker_2_port')::int THEN 'worker_2'
        WHEN current_setting('port')::int THEN 'coordinator'
        ELSE 'other' END
$$;
-- Runs a command and returns its SQLSTATE and message, the coordinator's port replaced by a name.
CREATE FUNCTION pg_temp.error_of(command text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; message text; detail text;
BEGIN
    EXECUTE command;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    message := concat_ws(E'\n', message, 'DETAIL: ' || nullif(detail, ''));
    RETURN state || ': ' || replace(message, ':' || current_setting('port'), ':<coordinator>');
END $$;
SELECT count(*) AS distributed_tables FROM rollup.tables;
SELECT rollup.remove_node('127.0.0.1', current_setting('regress.worker_1_port')::int);
SELECT rollup.remove_node('127.0.0.1', current_setting('regress.worker_2_port')::int);
SELECT count(*) AS nodes FROM rollup.nodes;
SET rollup.next_shard_id TO 400000;

-- The tutorial's first table, with rows in it before it is distributed.
CREATE TABLE http_request (
  site_id INT,
  ingest_time TIMESTAMPTZ DEFAULT now(),

  url TEXT,
  request_country TEXT,
  ip_address TEXT,

  status_code INT,
  response_time_msec INT
);
INSERT INTO http_request (site_id, ingest_time, url, request_country, ip_address, status_code,
                          response_time_msec)
SELECT i % 32, '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 second',
       'https://example.com/' || md5(i::text), (ARRAY['China', 'India', 'USA', 'Indonesia'])[i % 4 + 1],
       '10.0.' || (i % 250) || '.' || (i % 200), (ARRAY[200, 404])[i % 2 + 1], 5 + i % 150
  FROM generate_series(1, 3000) AS i;
CREATE TABLE http_request_copy AS SELECT * FROM http_request;

SELECT create_distributed_table('http_request', 'site_id');

-- The coordinator became a node, holding all 32 shards.
SELECT pg_temp.node_name(port) AS node, is_coordinator, shard_count FROM rollup.nodes;
SELECT table_name, shard_count, node_count FROM rollup.tables;
-- The shards are tables of this database.
SELECT count(*) AS local_shard_tables FROM pg_class
 WHERE relname ~ '^http_request_[0-9]+$' AND relkind = 'r';
-- Every row moved to the shard whose hash range holds hashint4(site_id); none lost or changed.
SELECT sum(row_count) AS rows_in_shards FROM rollup.shard_stats('http_request');
CREATE FUNCTION pg_temp.rows_of_shards() RETURNS TABLE (shardid bigint, in_range boolean,
    site_id int, ingest_time timestamptz, url text, request_country text, ip_address text,
    status_code int, response_time_msec int)
LANGUAGE plpgsql AS $$
DECLARE s record;
BEGIN
    FOR s IN SELECT * FROM rollup.shards WHERE table_name = 'http_request'::regclass LOOP
        RETURN QUERY EXECUTE format(
            'SELECT %s::bigint, hashint4(site_id) BETWEEN %s AND %s, * FROM %s',
            s.shardid, s.hash_min, s.hash_max, s.shard_name);
    END LOOP;
END $$;
SELECT count(*) AS rows, count(*) FILTER (WHERE in_range) AS rows_in_their_shard,
       count(DISTINCT shardid) AS shards_with_rows
  FROM pg_temp.rows_of_shards();
(SELECT * FROM http_request_copy
 EXCEPT ALL
 SELECT site_id, ingest_time, url, request_country, ip_address, status_code, response_time_msec
   FROM pg_temp.rows_of_shards())
UNION ALL
(SELECT site_id, ingest_time, url, request_country, ip_address, status_code, response_time_msec
   FROM pg_temp.rows_of_shards()
 EXCEPT ALL
 SELECT * FROM http_request_copy);
-- The coordinator's own table keeps no row (pgstattuple reads its heap directly).
CREATE EXTENSION IF NOT EXISTS pgstattuple;
SELECT tuple_count AS live_rows_in_shell FROM pgstattuple('http_request');

-- DROP SCHEMA ... CASCADE of a schema whose distributed table has its shards on the coordinator:
-- the shards go with the schema, and dropping them again over a connection waited for this
-- transaction's own locks forever.
CREATE SCHEMA sn_drop;
CREATE TABLE sn_drop.t (id int);
SELECT create_distributed_table('sn_drop.t', 'id', 4);
INSERT INTO sn_drop.t SELECT generate_series(1, 10);
SET statement_timeout = '30s';
DROP SCHEMA sn_drop CASCADE;
RESET statement_timeout;
SELECT count(*) AS left_in_metadata FROM rollup.shards WHERE shard_name LIKE 'sn_drop.%';

-- Adding workers later: new co-location groups go to the workers; a table co-located with one
-- whose shards are on the coordinator follows them there (co-located shards stay together).
SELECT rollup.add_node('127.0.0.1', current_setting('regress.worker_' || i || '_port')::int) > 0 AS added
  FROM generate_series(1, 2) AS i;
CREATE TABLE http_request_1min (site_id int, ingest_time timestamptz, request_count int);
SELECT create_distributed_table('http_request_1min', 'site_id');
CREATE TABLE elsewhere (site_id int);
SELECT create_distributed_table('elsewhere', 'site_id', colocate_with => 'none');
SELECT table_name, pg_temp.node_name(port) AS node, count(*) AS shards
  FROM rollup.shards GROUP BY 1, 2 ORDER BY 1, 2;
-- The coordinator cannot leave while it holds shards.
SELECT pg_temp.error_of(format('SELECT rollup.remove_node(%L, %s)', 'localhost', current_setting('port')));

-- undistribute_table and DROP TABLE work on local shards too.
SELECT undistribute_table('http_request');
SELECT count(*) AS rows_back FROM http_request;
(SELECT * FROM http_request_copy EXCEPT ALL SELECT * FROM http_request)
UNION ALL
(SELECT * FROM http_request EXCEPT ALL SELECT * FROM http_request_copy);
SELECT count(*) AS local_shard_tables FROM pg_class
 WHERE relname ~ '^http_request_[0-9]+$' AND relkind = 'r';
DROP TABLE http_request_1min, elsewhere;
SELECT count(*) AS local_shard_tables FROM pg_class
 WHERE relname ~ '^http_request_1min_[0-9]+$' AND relkind = 'r';

-- Back to the two-worker setup the other tests expect: the coordinator, holding nothing now, is
-- removed from the nodes.
SELECT rollup.remove_node('localhost', current_setting('port')::int);
SELECT pg_temp.node_name(port) AS node, is_coordinator, shard_count FROM rollup.nodes ORDER BY node;
DROP TABLE http_request, http_request_copy;
DROP EXTENSION pgstattuple;
RESET rollup.next_shard_id;
