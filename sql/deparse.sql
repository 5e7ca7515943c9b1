-- rollup.deparse_for_shard: the SQL one shard receives for a statement. Every distributed table is
-- replaced by its shard of the given index (co-located tables by shards of the same index); local
-- tables stay; stable functions are folded before this (here: none, so the output is stable).
CREATE SCHEMA dp;
CREATE TABLE dp.hits (site_id int, at timestamptz, status int, ms int);
CREATE TABLE dp.hits_1min (site_id int, minute timestamptz, n int, ok int, PRIMARY KEY (site_id, minute));
CREATE TABLE dp.sites (site_id int PRIMARY KEY, name text);
SET rollup.next_shard_id = 990000;
SELECT create_distributed_table('dp.hits', 'site_id', shard_count => 4, colocate_with => 'none');
SELECT create_distributed_table('dp.hits_1min', 'site_id', colocate_with => 'dp.hits');
SELECT rollup.deparse_for_shard($$
  SELECT site_id, count(*), sum(CASE WHEN status BETWEEN 200 AND 299 THEN 1 ELSE 0 END)
    FROM dp.hits h WHERE ms > 10 GROUP BY site_id HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 5$$, 2);
-- co-located INSERT ... SELECT: shard 1 of the source feeds shard 1 of the target
SELECT rollup.deparse_for_shard($$
  INSERT INTO dp.hits_1min SELECT site_id, date_trunc('minute', at), count(*), count(*) FILTER (WHERE status < 400)
    FROM dp.hits GROUP BY 1, 2
    ON CONFLICT (site_id, minute) DO UPDATE SET n = hits_1min.n + excluded.n$$, 1);
SELECT rollup.deparse_for_shard($$UPDATE dp.hits SET ms = ms + 1 WHERE site_id = 3 RETURNING site_id, ms$$, 0);
-- a join of co-located tables, and a local table that stays as it is
SELECT rollup.deparse_for_shard($$
  SELECT s.name, count(*) FROM dp.hits h JOIN dp.hits_1min m USING (site_id) JOIN dp.sites s USING (site_id)
   GROUP BY s.name$$, 3);
SELECT rollup.deparse_for_shard('SELECT 1; SELECT 2', 0);
DROP SCHEMA dp CASCADE;
RESET rollup.next_shard_id;
