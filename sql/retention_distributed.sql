-- Retention on a distributed table: rollup.expire deletes exactly the expired rows on every shard,
-- in batches, inside the caller's transaction (so a rollback keeps them).
CREATE SCHEMA ret_dist;
CREATE TABLE ret_dist.http_request (site_id int, ingest_time timestamptz, url text);
-- 30 days of data, one row per site per hour for 20 sites: rows older than 1 day expire.
INSERT INTO ret_dist.http_request
SELECT s, now() - (h || ' hours')::interval - interval '1 minute', 'u'
  FROM generate_series(1, 20) s, generate_series(0, 30 * 24 - 1) h;
SELECT count(*) FILTER (WHERE ingest_time < now() - interval '1 day') AS expiring,
       count(*) AS total
  FROM ONLY ret_dist.http_request;
SET rollup.next_shard_id = 880000;
SELECT create_distributed_table('ret_dist.http_request', 'site_id', shard_count => 4);
SELECT sum(row_count) AS rows_in_shards FROM rollup.shard_stats('ret_dist.http_request');
-- The policy's job (every minute) is paused in the same transaction, so the scheduler never sees it
-- active: otherwise a minute boundary during the checks below lets the job delete the rows first.
BEGIN;
SELECT rollup.set_retention('ret_dist.http_request', 'ingest_time', '1 day');
SELECT rollup.alter_job('expire ret_dist.http_request', active => false);
COMMIT;
-- rolled back: nothing is lost
BEGIN;
SELECT rollup.expire('ret_dist.http_request') AS expired;
ROLLBACK;
SELECT sum(row_count) AS rows_in_shards FROM rollup.shard_stats('ret_dist.http_request');
SELECT rollup.expire('ret_dist.http_request') AS expired;
SELECT sum(row_count) AS rows_in_shards FROM rollup.shard_stats('ret_dist.http_request');
SELECT rollup.expire('ret_dist.http_request') AS expired_again;
SELECT rollup.unschedule('expire ret_dist.http_request');
DROP SCHEMA ret_dist CASCADE;
RESET rollup.next_shard_id;
