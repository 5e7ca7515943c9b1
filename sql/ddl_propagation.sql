-- DDL on a distributed table reaches every shard: TRUNCATE, ADD/DROP COLUMN, SET/DROP NOT NULL,
-- SET DEFAULT, RENAME COLUMN, CREATE/DROP INDEX. Other DDL is refused, naming what is not supported.
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SET rollup.next_shard_id TO 304000;
-- One line per shard: the shard's columns (name:type:notnull) and indexes, read on its node.
CREATE FUNCTION pg_temp.shard_ddl(tbl regclass)
RETURNS TABLE (shardid bigint, columns text, indexes text) LANGUAGE sql AS $$
  SELECT s.shardid, r.columns, r.indexes
    FROM rollup.shards s,
         LATERAL dblink(format('host=%s port=%s dbname=%s', s.host, s.port, current_database()),
                        format($q$SELECT (SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod)
                                                           || CASE WHEN attnotnull THEN ':notnull' ELSE '' END, ', ' ORDER BY attnum)
                                            FROM pg_attribute WHERE attrelid = %L::regclass AND attnum > 0 AND NOT attisdropped),
                                         (SELECT coalesce(string_agg(indexrelid::regclass::text, ', ' ORDER BY 1), '-')
                                            FROM pg_index WHERE indrelid = %L::regclass)$q$,
                               s.shard_name, s.shard_name))
           AS r(columns text, indexes text)
   WHERE s.table_name = tbl ORDER BY s.shardid
$$;
CREATE TABLE metrics (host_id int, name text, value float8);
SELECT create_distributed_table('metrics', 'host_id', 3);
INSERT INTO metrics SELECT g, 'm' || g, g FROM generate_series(1, 100) g;

ALTER TABLE metrics ADD COLUMN unit text DEFAULT 'ms' NOT NULL, ADD COLUMN note varchar(20);
ALTER TABLE metrics ALTER COLUMN name SET NOT NULL;
ALTER TABLE metrics RENAME COLUMN value TO val;
ALTER TABLE metrics DROP COLUMN note;
ALTER TABLE metrics ALTER COLUMN unit SET DEFAULT 's';
CREATE INDEX metrics_name_idx ON metrics (name);
CREATE UNIQUE INDEX metrics_host_name_key ON metrics (host_id, name);
SELECT * FROM pg_temp.shard_ddl('metrics');
-- existing rows got the new column's default on the shards; new rows get the coordinator's default
INSERT INTO metrics (host_id, name, val) VALUES (1000, 'new', 1);
SELECT s.shardid, r.*
  FROM rollup.shards s,
       LATERAL dblink(format('host=%s port=%s dbname=%s', s.host, s.port, current_database()),
                      'SELECT unit, count(*) FROM ' || s.shard_name || ' GROUP BY 1') AS r(unit text, n bigint)
 WHERE s.table_name = 'metrics'::regclass ORDER BY 1, 2;

DROP INDEX metrics_name_idx;
ALTER TABLE metrics ALTER COLUMN name DROP NOT NULL;
SELECT * FROM pg_temp.shard_ddl('metrics');

TRUNCATE metrics;
SELECT sum(row_count) FROM rollup.shard_stats('metrics');

-- refused, with what is not supported
ALTER TABLE metrics ALTER COLUMN val TYPE numeric;
ALTER TABLE metrics ADD CONSTRAINT positive CHECK (val > 0);
ALTER TABLE metrics ADD COLUMN checked int CHECK (checked > 0);
ALTER TABLE metrics DROP COLUMN host_id;
ALTER TABLE metrics RENAME COLUMN host_id TO h;
ALTER TABLE metrics RENAME TO metrics2;
CREATE UNIQUE INDEX metrics_name_key ON metrics (name);
CREATE INDEX CONCURRENTLY metrics_val_idx ON metrics (val);
CREATE SEQUENCE metrics_seq;
ALTER TABLE metrics ADD COLUMN seq_id bigint DEFAULT nextval('metrics_seq');
DROP SEQUENCE metrics_seq;
-- a failure on the shards rolls back the coordinator too: the index does not exist anywhere
BEGIN;
CREATE INDEX metrics_val_idx ON metrics (val);
ROLLBACK;
SELECT * FROM pg_temp.shard_ddl('metrics');
SELECT count(*) FROM pg_indexes WHERE tablename = 'metrics';

-- ANALYZE of a distributed table analyzes every shard on its node (statistics for shard plans right
-- after a bulk load); with a column list, those columns. (ANALYZE with no table list analyzes the
-- coordinator's own tables only.)
CREATE FUNCTION pg_temp.shard_stats(tbl regclass)
RETURNS TABLE (shardid bigint, analyzed_columns text) LANGUAGE sql AS $$
  SELECT s.shardid, r.cols
    FROM rollup.shards s,
         LATERAL dblink(format('host=%s port=%s dbname=%s', s.host, s.port, current_database()),
                        format($q$SELECT coalesce(string_agg(attname, ', ' ORDER BY attname), '-') FROM pg_stats
                                  WHERE schemaname || '.' || tablename = %L$q$, replace(s.shard_name, '"', '')))
           AS r(cols text)
   WHERE s.table_name = tbl ORDER BY s.shardid
$$;
INSERT INTO metrics (host_id, name, val) SELECT g, 'a' || g, g FROM generate_series(5000, 5300) g;
SELECT * FROM pg_temp.shard_stats('metrics');
ANALYZE metrics (name);
SELECT * FROM pg_temp.shard_stats('metrics');
-- in a read-only transaction too (statistics are not a write), with the shell's options
BEGIN READ ONLY;
ANALYZE (SKIP_LOCKED) metrics (val);
COMMIT;
SELECT * FROM pg_temp.shard_stats('metrics');
BEGIN;
ANALYZE metrics;
COMMIT;
SELECT * FROM pg_temp.shard_stats('metrics');

DROP TABLE metrics;
SELECT count(*) FROM rollup.shards WHERE table_name::text = 'metrics';
RESET rollup.next_shard_id;
