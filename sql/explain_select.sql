-- Plan classes of distributed SELECT, as EXPLAIN (COSTS OFF) shows them: router (one shard),
-- multi-shard scan with filters shipped (the fallback; PostgreSQL plans the rest on top),
-- aggregate pushdown (GROUP BY has the distribution column), partial aggregation, and the
-- execution-time pruning of prepared statements. Shard ids are fixed by rollup.next_shard_id.
SET rollup.next_shard_id = 420000;
CREATE TABLE ex_events (site_id int, ts timestamptz, status int, ms int, url text);
SELECT create_distributed_table('ex_events', 'site_id', 4);
-- router: equality on the distribution column reads one shard
EXPLAIN (COSTS OFF) SELECT * FROM ex_events WHERE site_id = 3;
EXPLAIN (COSTS OFF) SELECT count(*), avg(ms) FROM ex_events WHERE site_id = 3;
-- IN prunes to the shards of its values; a contradiction reads none
EXPLAIN (COSTS OFF) SELECT url FROM ex_events WHERE site_id IN (1, 2) AND status = 500;
EXPLAIN (COSTS OFF) SELECT url FROM ex_events WHERE site_id = 1 AND site_id = 2;
-- multi-shard scan: filters and columns are shipped; what cannot ship stays on the coordinator
EXPLAIN (COSTS OFF, VERBOSE) SELECT url FROM ex_events WHERE status = 500 AND random() < 0.5;
EXPLAIN (COSTS OFF) SELECT * FROM ex_events WHERE ts > now() - interval '1 hour' ORDER BY ts LIMIT 3;
-- aggregate pushdown: each shard returns its final groups
EXPLAIN (COSTS OFF) SELECT site_id, date_trunc('minute', ts) AS minute, count(1), sum(ms) / count(1)
  FROM ex_events GROUP BY site_id, minute ORDER BY minute;
EXPLAIN (COSTS OFF) SELECT site_id, count(DISTINCT url) FROM ex_events GROUP BY site_id HAVING count(*) > 1;
-- partial aggregation: shards return count/sum/min/max (avg as count and sum), combined per group
EXPLAIN (COSTS OFF) SELECT status, count(*), avg(ms), min(url), max(ts) FROM ex_events GROUP BY status;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ex_events;
-- not splittable: the fallback aggregates on the coordinator
EXPLAIN (COSTS OFF) SELECT status, count(DISTINCT url) FROM ex_events GROUP BY status;
EXPLAIN (COSTS OFF) SELECT status, string_agg(url, ',') FROM ex_events GROUP BY status;
-- joins with local tables: scans of the distributed table under a coordinator join
CREATE TABLE ex_sites (site_id int PRIMARY KEY, name text);
EXPLAIN (COSTS OFF) SELECT s.name, count(*) FROM ex_events e JOIN ex_sites s USING (site_id) GROUP BY s.name;
-- prepared statements: a generic plan prunes when it runs
PREPARE ex_q(int) AS SELECT count(*) FROM ex_events WHERE site_id = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE ex_q(3);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE ex_q(3);
RESET plan_cache_mode;
DEALLOCATE ex_q;
-- every node's statement
SET rollup.explain_all_tasks = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ex_events WHERE site_id IN (1, 2, 3, 4, 5, 6);
RESET rollup.explain_all_tasks;
-- FOR UPDATE is refused with a hint
SELECT * FROM ex_events WHERE site_id = 1 FOR UPDATE;
-- queries without distributed tables are not touched
EXPLAIN (COSTS OFF) SELECT * FROM ex_sites WHERE site_id = 1;
-- pruning across the types of the column's hash family: a bigint column compared with int and
-- smallint values (and an int column with a bigint value) still reads only the shards of the values,
-- and finds the rows; so do a varchar column and prepared statements with parameters of another type
CREATE TABLE ex_big (id bigint, v text);
SELECT create_distributed_table('ex_big', 'id', 4);
INSERT INTO ex_big SELECT g, 'v' || g FROM generate_series(1, 40) g;
EXPLAIN (COSTS OFF) SELECT v FROM ex_big WHERE id = 7;
SELECT v FROM ex_big WHERE id = 7;
SELECT v FROM ex_big WHERE id = 7::smallint;
EXPLAIN (COSTS OFF) SELECT v FROM ex_big WHERE id IN (7, 8::smallint, 9);
SELECT v FROM ex_big WHERE id IN (7, 9) ORDER BY v;
EXPLAIN (COSTS OFF) UPDATE ex_big SET v = v || '!' WHERE id = 11;
UPDATE ex_big SET v = v || '!' WHERE id = 11 RETURNING id, v;
EXPLAIN (COSTS OFF) SELECT url FROM ex_events WHERE site_id = 3::bigint;
EXPLAIN (COSTS OFF) SELECT url FROM ex_events WHERE site_id = 3000000000::bigint;
PREPARE big_by_int(int) AS SELECT v FROM ex_big WHERE id = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE big_by_int(13);
EXECUTE big_by_int(13);
RESET plan_cache_mode;
DEALLOCATE big_by_int;
CREATE TABLE ex_vc (k varchar(10), n int);
SELECT create_distributed_table('ex_vc', 'k', 4);
INSERT INTO ex_vc SELECT 'k' || g, g FROM generate_series(1, 20) g;
EXPLAIN (COSTS OFF) SELECT n FROM ex_vc WHERE k = 'k5';
SELECT n FROM ex_vc WHERE k = 'k5';
SELECT n FROM ex_vc WHERE k = 'k6'::text;
-- co-located tables joined on a varchar distribution column: the join runs on the shards
CREATE TABLE ex_vc2 (k varchar(10), m int);
SELECT create_distributed_table('ex_vc2', 'k', colocate_with => 'ex_vc');
INSERT INTO ex_vc2 SELECT 'k' || g, g * 10 FROM generate_series(1, 20, 2) g;
EXPLAIN (COSTS OFF) SELECT a.k, a.n, b.m FROM ex_vc a JOIN ex_vc2 b ON a.k = b.k;
SELECT a.k, a.n, b.m FROM ex_vc a JOIN ex_vc2 b ON a.k = b.k ORDER BY a.n;
DROP TABLE ex_big, ex_vc, ex_vc2;
DROP TABLE ex_events, ex_sites;
