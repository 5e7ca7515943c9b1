-- Differential tests of distributed SELECT: every query runs on distributed tables (schema dist) and
-- on local copies with the same rows (schema loc); compare() reports rows that differ in either
-- direction (EXCEPT ALL both ways, on the rows' text form, so types and scales must match too) and
-- the row count. An expected "0 differences" cannot record a wrong answer.
SET rollup.next_shard_id = 410000;
CREATE SCHEMA dist;
CREATE SCHEMA loc;

\i sql/helpers/compare.sql

-- The tutorial schema.
CREATE TABLE dist.http_request (
    site_id int,
    ingest_time timestamptz DEFAULT now(),
    url text,
    request_country text,
    ip_address text,
    status_code int,
    response_time_msec int
);
CREATE TABLE dist.http_request_1min (
    site_id int,
    ingest_time timestamptz,
    error_count int,
    success_count int,
    request_count int,
    average_response_time_msec int
);
INSERT INTO dist.http_request
SELECT (i * 7919) % 97,
       '2024-03-10 00:00:00+00'::timestamptz + (i * 13 % 86400) * interval '1 second',
       'http://example.com/' || (i % 11),
       (ARRAY['NL', 'US', 'DE', NULL])[1 + i % 4],
       '10.0.' || (i % 5) || '.' || (i % 7),
       (ARRAY[200, 201, 204, 301, 404, 500])[1 + (i * 31) % 6],
       CASE WHEN i % 17 = 0 THEN NULL ELSE (i * 37) % 2000 END
  FROM generate_series(1, 6000) i;
INSERT INTO dist.http_request_1min
SELECT site_id, date_trunc('minute', ingest_time),
       count(*) FILTER (WHERE status_code NOT BETWEEN 200 AND 299),
       count(*) FILTER (WHERE status_code BETWEEN 200 AND 299),
       count(*), avg(response_time_msec)
  FROM dist.http_request GROUP BY 1, 2;
CREATE TABLE loc.http_request AS SELECT * FROM dist.http_request;
CREATE TABLE loc.http_request_1min AS SELECT * FROM dist.http_request_1min;
SELECT create_distributed_table('dist.http_request', 'site_id');
SELECT create_distributed_table('dist.http_request_1min', 'site_id');

-- A second schema: bigint, text, uuid and numeric distribution columns, NULLs, skew, empty shards.
CREATE TABLE dist.ev_big (id bigint, k text, v numeric(12,3), f float8, t timestamptz, flag bool, n int, d date);
INSERT INTO dist.ev_big
SELECT CASE WHEN i % 3 = 0 THEN 42 ELSE i END,                    -- skew: a third of the rows in one shard
       CASE WHEN i % 9 = 0 THEN NULL ELSE 'k' || (i % 13) END,
       CASE WHEN i % 11 = 0 THEN NULL ELSE round((i * 1.37)::numeric, 3) END,
       (i % 8) * 0.25,
       '2023-12-31 23:00:00+00'::timestamptz + i * interval '7 minutes',
       CASE WHEN i % 5 = 0 THEN NULL ELSE i % 2 = 0 END,
       CASE WHEN i % 7 = 0 THEN NULL ELSE i % 100 END,
       date '2024-01-01' + (i % 40)
  FROM generate_series(1, 3000) i;
CREATE TABLE dist.ev_text (key text, grp int, amount numeric, note text);
INSERT INTO dist.ev_text
SELECT 'user-' || (i % 37), i % 6, CASE WHEN i % 10 = 0 THEN NULL ELSE i / 3.0 END,
       CASE WHEN i % 4 = 0 THEN NULL ELSE repeat('x', i % 5) END
  FROM generate_series(1, 2000) i;
CREATE TABLE dist.ev_uuid (u uuid, cat text, score int);
INSERT INTO dist.ev_uuid
SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(i % 300), 12, '0'))::uuid, 'c' || (i % 4),
       CASE WHEN i % 13 = 0 THEN NULL ELSE i % 50 END
  FROM generate_series(1, 1500) i;
CREATE TABLE dist.ev_num (num numeric, label text, qty int);
INSERT INTO dist.ev_num                                           -- few values: most shards are empty
SELECT (ARRAY[1.0, 1.00, 2.5, -3, 1000000.001])[1 + i % 5], 'l' || (i % 3), i FROM generate_series(1, 200) i;
CREATE TABLE dist.empty_t (id bigint, v int);
CREATE TABLE loc.ev_big AS SELECT * FROM dist.ev_big;
CREATE TABLE loc.ev_text AS SELECT * FROM dist.ev_text;
CREATE TABLE loc.ev_uuid AS SELECT * FROM dist.ev_uuid;
CREATE TABLE loc.ev_num AS SELECT * FROM dist.ev_num;
CREATE TABLE loc.empty_t AS SELECT * FROM dist.empty_t;
SELECT create_distributed_table('dist.ev_big', 'id');
SELECT create_distributed_table('dist.ev_text', 'key', 8);
SELECT create_distributed_table('dist.ev_uuid', 'u', 16);
SELECT create_distributed_table('dist.ev_num', 'num');
SELECT create_distributed_table('dist.empty_t', 'id');
-- A local table to join with.
CREATE TABLE public.sites (site_id int PRIMARY KEY, name text);
INSERT INTO public.sites SELECT i, 'site ' || i FROM generate_series(0, 60) i;

-- Plain scans, filters, projections
SELECT compare($$SELECT * FROM http_request$$);
SELECT compare($$SELECT site_id, url FROM http_request WHERE status_code = 404$$);
SELECT compare($$SELECT * FROM http_request WHERE site_id = 7$$);
SELECT compare($$SELECT * FROM http_request WHERE site_id IN (1, 2, 3, 99)$$);
SELECT compare($$SELECT * FROM http_request WHERE site_id = 7 AND site_id = 8$$);
SELECT compare($$SELECT * FROM http_request WHERE site_id = ANY (ARRAY[5, NULL])$$);
SELECT compare($$SELECT * FROM http_request WHERE site_id = 7::bigint$$);
SELECT compare($$SELECT * FROM http_request WHERE response_time_msec IS NULL$$);
SELECT compare($$SELECT * FROM http_request WHERE request_country IS DISTINCT FROM 'NL'$$);
SELECT compare($$SELECT url || '?' || site_id, upper(request_country) FROM http_request WHERE url LIKE '%/1%'$$);
SELECT compare($$SELECT * FROM http_request WHERE ingest_time BETWEEN '2024-03-10 05:00+00' AND '2024-03-10 06:00+00'$$);
SELECT compare($$SELECT * FROM http_request WHERE date_trunc('hour', ingest_time) = '2024-03-10 03:00+00'$$);
SELECT compare($$SELECT site_id, ingest_time::date FROM http_request WHERE ingest_time::date = '2024-03-10'$$);
SELECT compare($$SELECT site_id, ingest_time::text FROM http_request WHERE site_id < 3$$);
SELECT compare($$SELECT CASE WHEN status_code >= 500 THEN 'err' ELSE 'ok' END, coalesce(response_time_msec, -1) FROM http_request$$);
SELECT compare($$SELECT * FROM http_request WHERE status_code IN (200, 204) AND NOT (site_id BETWEEN 10 AND 80)$$);
SELECT compare($$SELECT * FROM http_request WHERE random() < 2$$);
SELECT compare($$SELECT count(*) FROM http_request WHERE ingest_time < now()$$);
SELECT compare($$SELECT ctid IS NOT NULL, tableoid::regclass FROM http_request WHERE site_id = 1$$);
SELECT compare($$SELECT h FROM http_request h WHERE site_id = 2$$);
-- Aggregates: full pushdown (GROUP BY has the distribution column)
SELECT compare($$SELECT site_id, count(*) FROM http_request GROUP BY site_id$$);
SELECT compare($$SELECT site_id, date_trunc('minute', ingest_time) AS minute, count(1) AS request_count,
       sum(CASE WHEN status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS success_count,
       sum(CASE WHEN status_code BETWEEN 200 AND 299 THEN 0 ELSE 1 END) AS error_count,
       sum(response_time_msec) / count(1) AS average_response_time_msec
  FROM http_request
 WHERE date_trunc('minute', ingest_time) > '2024-03-10 12:00+00'::timestamptz - '5 minutes'::interval
 GROUP BY site_id, minute$$);
SELECT compare($$SELECT site_id, count(DISTINCT url), string_agg(DISTINCT request_country, ',' ORDER BY request_country) FROM http_request GROUP BY site_id$$);
SELECT compare($$SELECT site_id, percentile_disc(0.5) WITHIN GROUP (ORDER BY response_time_msec) FROM http_request GROUP BY site_id$$);
SELECT compare($$SELECT site_id, avg(response_time_msec), stddev(response_time_msec)::numeric(20,6) FROM http_request GROUP BY 1 HAVING count(*) > 60$$);
SELECT compare($$SELECT site_id, status_code, max(url), min(ingest_time) FROM http_request GROUP BY 2, 1$$);
SELECT compare($$SELECT site_id, array_agg(status_code ORDER BY ingest_time, status_code) FROM http_request WHERE site_id < 5 GROUP BY site_id$$);
SELECT compare($$SELECT site_id, count(*) FILTER (WHERE status_code = 500), bool_and(status_code < 500), bool_or(response_time_msec > 1990) FROM http_request GROUP BY site_id$$);
SELECT compare($$SELECT site_id + 1, count(*) FROM http_request GROUP BY site_id$$);
SELECT compare($$SELECT count(*), sum(response_time_msec), avg(response_time_msec) FROM http_request WHERE site_id = 7$$);
SELECT compare($$SELECT count(DISTINCT url) FROM http_request WHERE site_id = 8$$);
SELECT compare($$SELECT site_id, count(*) FROM http_request GROUP BY site_id ORDER BY count(*) DESC, site_id LIMIT 5$$);
-- Aggregates: partial aggregation (GROUP BY without the distribution column)
SELECT compare($$SELECT count(*) FROM http_request$$);
SELECT compare($$SELECT count(*), count(response_time_msec), sum(response_time_msec), avg(response_time_msec), min(response_time_msec), max(response_time_msec) FROM http_request$$);
SELECT compare($$SELECT status_code, count(*) FROM http_request GROUP BY status_code$$);
SELECT compare($$SELECT status_code, avg(response_time_msec), sum(response_time_msec) / count(1) FROM http_request GROUP BY 1$$);
SELECT compare($$SELECT request_country, count(*), min(url), max(url) FROM http_request GROUP BY request_country$$);
SELECT compare($$SELECT date_trunc('hour', ingest_time), count(*), sum(response_time_msec) FROM http_request GROUP BY 1$$);
SELECT compare($$SELECT status_code, CASE WHEN count(*) > 900 THEN 'many' ELSE 'few' END, sum(CASE WHEN response_time_msec > 1000 THEN 1 ELSE 0 END) FROM http_request GROUP BY 1$$);
SELECT compare($$SELECT status_code / 100 AS class, count(*) FROM http_request GROUP BY class HAVING count(*) > 1000$$);
SELECT compare($$SELECT status_code, bool_and(response_time_msec < 1500), bool_or(url LIKE '%/3'), every(site_id < 97) FROM http_request GROUP BY 1$$);
SELECT compare($$SELECT status_code, count(*) FILTER (WHERE request_country = 'NL'), sum(response_time_msec) FILTER (WHERE site_id < 50) FROM http_request GROUP BY 1$$);
SELECT compare($$SELECT count(*) FROM http_request WHERE site_id = 7 AND site_id = 8$$);
SELECT compare($$SELECT max(response_time_msec) FROM http_request WHERE status_code = 999$$);
SELECT compare($$SELECT status_code, count(DISTINCT site_id) FROM http_request GROUP BY 1$$);
SELECT compare($$SELECT status_code, string_agg(url, ',' ORDER BY url) FROM http_request WHERE site_id < 3 GROUP BY 1$$);
SELECT compare($$SELECT status_code, percentile_cont(0.9) WITHIN GROUP (ORDER BY response_time_msec) FROM http_request GROUP BY 1$$);
SELECT compare($$SELECT status_code, sum(count(*)) OVER () FROM http_request GROUP BY 1$$);
SELECT compare($$SELECT request_country, count(*) FROM http_request GROUP BY ROLLUP (request_country)$$);
SELECT compare($$SELECT status_code, count(*) FROM http_request GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3$$);
SELECT compare($$SELECT status_code, avg(response_time_msec)::numeric(10,2) FROM http_request WHERE ingest_time > '2024-03-10 20:00+00' GROUP BY 1$$);
-- The rollup table
SELECT compare($$SELECT site_id, ingest_time AS minute, request_count, success_count, error_count, average_response_time_msec
  FROM http_request_1min WHERE ingest_time > date_trunc('minute', '2024-03-10 12:00+00'::timestamptz) - '5 minutes'::interval$$);
SELECT compare($$SELECT sum(request_count), sum(error_count) FROM http_request_1min$$);
SELECT compare($$SELECT site_id, sum(request_count) FROM http_request_1min GROUP BY 1 HAVING sum(error_count) > 10$$);
SELECT compare($$SELECT ingest_time, sum(request_count), avg(average_response_time_msec) FROM http_request_1min GROUP BY 1$$);
-- Joins, subqueries, CTEs, set operations, window functions (fallback)
SELECT compare($$SELECT s.name, count(*) FROM http_request h JOIN sites s USING (site_id) GROUP BY s.name$$);
SELECT compare($$SELECT s.name, h.url FROM sites s LEFT JOIN http_request h ON h.site_id = s.site_id AND h.status_code = 500$$);
SELECT compare($$SELECT h.site_id, r.request_count FROM http_request h JOIN http_request_1min r ON r.site_id = h.site_id AND r.ingest_time = date_trunc('minute', h.ingest_time) WHERE h.site_id < 10$$);
SELECT compare($$SELECT * FROM http_request WHERE site_id IN (SELECT site_id FROM sites WHERE name LIKE 'site 1%')$$);
SELECT compare($$SELECT * FROM sites WHERE site_id NOT IN (SELECT site_id FROM http_request WHERE site_id IS NOT NULL)$$);
SELECT compare($$SELECT * FROM sites s WHERE EXISTS (SELECT 1 FROM http_request h WHERE h.site_id = s.site_id AND h.status_code = 404)$$);
SELECT compare($$SELECT s.site_id, (SELECT count(*) FROM http_request h WHERE h.site_id = s.site_id) FROM sites s$$);
SELECT compare($$WITH t AS (SELECT site_id, count(*) c FROM http_request GROUP BY 1) SELECT max(c), min(c) FROM t$$);
SELECT compare($$WITH t AS MATERIALIZED (SELECT * FROM http_request WHERE status_code = 500) SELECT site_id, count(*) FROM t GROUP BY 1$$);
SELECT compare($$SELECT site_id, url, rank() OVER (PARTITION BY site_id ORDER BY ingest_time, url) FROM http_request WHERE site_id < 4$$);
SELECT compare($$SELECT status_code, count(*), lag(count(*)) OVER (ORDER BY status_code) FROM http_request GROUP BY 1$$);
SELECT compare($$SELECT DISTINCT site_id FROM http_request$$);
SELECT compare($$SELECT DISTINCT ON (site_id) site_id, url FROM http_request ORDER BY site_id, ingest_time, url$$);
SELECT compare($$SELECT site_id FROM http_request UNION SELECT site_id FROM sites$$);
SELECT compare($$SELECT site_id FROM http_request INTERSECT ALL SELECT site_id FROM http_request_1min$$);
SELECT compare($$SELECT * FROM http_request ORDER BY ingest_time DESC, site_id, url LIMIT 10 OFFSET 5$$);
SELECT compare($$SELECT * FROM (SELECT site_id, count(*) AS c FROM http_request GROUP BY 1) x WHERE c > 62$$);
SELECT compare($$SELECT * FROM (VALUES (1), (7), (1000)) v(x) JOIN http_request h ON h.site_id = v.x$$);
SELECT compare($$SELECT a.site_id, count(*) FROM http_request a JOIN http_request b ON a.site_id = b.site_id AND a.url = b.url WHERE a.site_id < 3 GROUP BY 1$$);
SELECT compare($$SELECT x.id, y.key FROM ev_big x JOIN ev_text y ON y.grp = x.n % 6 WHERE x.id < 20$$);
SELECT compare($$SELECT generate_series(1, 2), site_id FROM http_request WHERE site_id = 3$$);
SELECT compare($$SELECT site_id, count(*) FROM http_request GROUP BY site_id HAVING site_id IN (SELECT site_id FROM sites WHERE site_id % 2 = 0)$$);
SELECT compare($$SELECT json_agg(url ORDER BY url, ingest_time)::text FROM http_request WHERE site_id = 5$$);
-- bigint distribution column
SELECT compare($$SELECT * FROM ev_big$$);
SELECT compare($$SELECT * FROM ev_big WHERE id = 42$$);
SELECT compare($$SELECT count(*), sum(v), avg(v), sum(f), avg(f), min(t), max(d) FROM ev_big$$);
SELECT compare($$SELECT id, count(*), sum(n), avg(n) FROM ev_big GROUP BY id$$);
SELECT compare($$SELECT k, count(*), sum(id), avg(id), sum(v), avg(v), min(v), max(v) FROM ev_big GROUP BY k$$);
SELECT compare($$SELECT flag, count(*), avg(f), sum(n)::numeric / nullif(count(n), 0) FROM ev_big GROUP BY flag$$);
SELECT compare($$SELECT d, count(*), bool_and(flag), bool_or(flag) FROM ev_big GROUP BY d$$);
SELECT compare($$SELECT date_trunc('day', t), count(*), max(v) FROM ev_big GROUP BY 1$$);
SELECT compare($$SELECT n % 3, avg(n), avg(v), avg(id) FROM ev_big GROUP BY 1$$);
SELECT compare($$SELECT * FROM ev_big WHERE id IN (42, 43, 44) AND flag$$);
SELECT compare($$SELECT * FROM ev_big WHERE v > 100.5 AND k <> 'k3'$$);
SELECT compare($$SELECT k, sum(v) FROM ev_big WHERE id = 42 GROUP BY k$$);
-- text distribution column
SELECT compare($$SELECT * FROM ev_text$$);
SELECT compare($$SELECT * FROM ev_text WHERE key = 'user-5'$$);
SELECT compare($$SELECT * FROM ev_text WHERE key IN ('user-1', 'user-2', 'nobody')$$);
SELECT compare($$SELECT key, count(*), sum(amount), avg(amount) FROM ev_text GROUP BY key$$);
SELECT compare($$SELECT grp, count(*), sum(amount), avg(amount), min(note), max(key) FROM ev_text GROUP BY grp$$);
SELECT compare($$SELECT note, count(*) FROM ev_text GROUP BY note$$);
SELECT compare($$SELECT key, length(note), count(*) FROM ev_text WHERE note IS NOT NULL GROUP BY 1, 2$$);
SELECT compare($$SELECT max(key COLLATE "C"), min(key COLLATE "C") FROM ev_text$$);
SELECT compare($$SELECT upper(key), count(*) FROM ev_text GROUP BY 1$$);
-- uuid distribution column
SELECT compare($$SELECT * FROM ev_uuid$$);
SELECT compare($$SELECT * FROM ev_uuid WHERE u = '00000000-0000-0000-0000-00000000002a'$$);
SELECT compare($$SELECT u, count(*), sum(score) FROM ev_uuid GROUP BY u$$);
SELECT compare($$SELECT cat, count(*), sum(score), avg(score), min(u::text) FROM ev_uuid GROUP BY cat$$);
SELECT compare($$SELECT cat, count(DISTINCT u) FROM ev_uuid GROUP BY cat$$);
-- numeric distribution column (1.0 and 1.00 are one value, one shard, one group)
SELECT compare($$SELECT * FROM ev_num$$);
SELECT compare($$SELECT * FROM ev_num WHERE num = 1$$);
SELECT compare($$SELECT num, count(*), sum(qty) FROM ev_num GROUP BY num$$);
SELECT compare($$SELECT num::text, count(*) FROM ev_num WHERE num = 1.000 GROUP BY 1$$);
SELECT compare($$SELECT label, count(*), sum(num), avg(num), min(num), max(num) FROM ev_num GROUP BY label$$);
SELECT compare($$SELECT count(*), sum(num) FROM ev_num GROUP BY num$$);
-- empty table
SELECT compare($$SELECT * FROM empty_t$$);
SELECT compare($$SELECT count(*), sum(v), avg(v), min(v), bool_and(v > 0) FROM empty_t$$);
SELECT compare($$SELECT v, count(*) FROM empty_t GROUP BY v$$);
SELECT compare($$SELECT id, count(*) FROM empty_t GROUP BY id$$);
SELECT compare($$SELECT count(*) FROM empty_t WHERE id = 1$$);
-- time zones: date_trunc and casts on the shards follow the session's TimeZone
SET TimeZone = 'Asia/Kolkata';
SELECT compare($$SELECT date_trunc('hour', ingest_time), count(*) FROM http_request GROUP BY 1$$);
SELECT compare($$SELECT site_id, date_trunc('day', ingest_time), count(*) FROM http_request GROUP BY 1, 2$$);
SET TimeZone = 'Europe/Amsterdam';
SELECT compare($$SELECT date_trunc('minute', '1900-01-01 10:00:30+00'::timestamptz + site_id * interval '1 second'), count(*) FROM http_request GROUP BY 1$$);
SELECT compare($$SELECT ingest_time::date, count(*) FROM http_request GROUP BY 1$$);
RESET TimeZone;
-- now() is evaluated once, on the coordinator
SELECT compare($$SELECT count(*) FROM http_request WHERE ingest_time > now() - interval '100 years'$$);
-- parameters of prepared statements (generic plan: pruned at execution)
SET plan_cache_mode = force_generic_plan;
PREPARE by_site(int) AS SELECT count(*), sum(response_time_msec) FROM dist.http_request WHERE site_id = $1;
EXECUTE by_site(7);
SELECT count(*), sum(response_time_msec) FROM loc.http_request WHERE site_id = 7;
PREPARE by_sites(int[]) AS SELECT status_code, count(*) FROM dist.http_request WHERE site_id = ANY($1) GROUP BY 1 ORDER BY 1;
EXECUTE by_sites(ARRAY[1, 2, 3]);
SELECT status_code, count(*) FROM loc.http_request WHERE site_id = ANY(ARRAY[1, 2, 3]) GROUP BY 1 ORDER BY 1;
RESET plan_cache_mode;
DEALLOCATE ALL;

-- some plain outputs
SELECT site_id, count(*), sum(response_time_msec), avg(response_time_msec)
  FROM dist.http_request WHERE site_id IN (1, 2) GROUP BY 1 ORDER BY 1;
SELECT status_code, count(*), avg(response_time_msec) FROM dist.http_request GROUP BY 1 ORDER BY 1;
SELECT num, count(*) FROM dist.ev_num GROUP BY num ORDER BY num;

DROP SCHEMA dist CASCADE;
DROP SCHEMA loc CASCADE;
DROP TABLE public.sites;
DROP FUNCTION public.compare(text, text, text);
