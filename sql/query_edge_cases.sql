-- Queries that crashed the coordinator or gave other answers than PostgreSQL (issue 10): each runs
-- on a distributed table and on a local copy with the same rows (compare(), sql/helpers/compare.sql),
-- so "0 differences" cannot record a wrong answer.
SET rollup.next_shard_id = 480000;
CREATE SCHEMA ec_dist;
CREATE SCHEMA ec_loc;
\i sql/helpers/compare.sql
CREATE TABLE ec_dist.lineitem (l_orderkey bigint, l_shipdate date, l_ts timestamptz, q numeric, note text);
SELECT create_distributed_table('ec_dist.lineitem', 'l_orderkey', 8);
INSERT INTO ec_dist.lineitem
SELECT g, date '1994-12-01' + (g * 7) % 400, timestamptz '2024-03-10 00:00:00+00' + g * interval '37 minutes',
       g * 1.25, CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END
  FROM generate_series(1, 300) g;
CREATE TABLE ec_loc.lineitem AS SELECT * FROM ec_dist.lineitem;

-- EXTRACT, date_part and other SQL-syntax functions whose deparse reads a constant argument: the
-- constants must stay constants (a parameter there crashed the backend).
SELECT compare($$SELECT max(extract(epoch from l_shipdate)) FROM lineitem$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT year, count(*) FROM (SELECT extract(year from l_shipdate) AS year FROM lineitem) s
                 WHERE year = 1995 GROUP BY 1$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT l_orderkey, extract(dow from l_ts), date_part('hour', l_ts) FROM lineitem
                 WHERE extract(month from l_shipdate) = 2$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT sum(extract(day from l_ts AT TIME ZONE 'Asia/Kolkata')) FROM lineitem$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT count(*) FROM lineitem WHERE note IS NFC NORMALIZED AND normalize(note, NFKC) <> 'x'$$,
               'ec_dist', 'ec_loc');
SELECT compare($$SELECT sum(q::numeric(10,1)), max(q::numeric(6,0)) FROM lineitem WHERE q::numeric(10,0) > 100$$,
               'ec_dist', 'ec_loc');
SELECT compare($$SELECT substring(note from 2 for 2), position('1' in note), overlay(note placing 'x' from 1)
                 FROM lineitem WHERE trim(both 'n' from note) = '12'$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT note COLLATE "C" FROM lineitem WHERE note COLLATE "C" < 'n2' ORDER BY 1 LIMIT 5$$,
               'ec_dist', 'ec_loc');

-- Aggregates over zero shards: pruning leaves no shard, PostgreSQL still returns one row.
SELECT compare($$SELECT count(*) FROM lineitem WHERE l_orderkey = ANY (NULL)$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT count(*), sum(q), max(note) FROM lineitem WHERE l_orderkey = ANY ('{}')$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT count(*) FROM lineitem WHERE l_orderkey = 1 AND l_orderkey = 2$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT l_orderkey, count(*) FROM lineitem WHERE l_orderkey = ANY ('{}') GROUP BY 1$$,
               'ec_dist', 'ec_loc');
SELECT compare($$SELECT avg(q) FROM lineitem WHERE l_orderkey IN (SELECT NULL::bigint)$$, 'ec_dist', 'ec_loc');

-- Volatile coordinator-only functions in LIMIT / OFFSET are evaluated on the coordinator.
CREATE FUNCTION public.ec_limit() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 3';
SELECT compare($$SELECT l_orderkey FROM lineitem ORDER BY 1 LIMIT public.ec_limit()$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT l_orderkey FROM lineitem ORDER BY 1 LIMIT public.ec_limit() OFFSET public.ec_limit()$$,
               'ec_dist', 'ec_loc');
SELECT compare($$SELECT a.l_orderkey FROM lineitem a JOIN lineitem b USING (l_orderkey)
                 ORDER BY 1 LIMIT public.ec_limit()$$, 'ec_dist', 'ec_loc');

-- String literals that hold what the deparser writes next to a table (a marker alias): they are
-- data, never rewritten.
SELECT compare($$SELECT 'ec_dist.lineitem rollup_shard_1' AS a, 'lineitem AS rollup_shard_1' AS b
                 FROM lineitem WHERE l_orderkey = 7$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT count(*) FROM lineitem rollup_shard_1 WHERE note <> 'lineitem rollup_shard_1'$$,
               'ec_dist', 'ec_loc');
SELECT compare($$SELECT rollup_shard_2.l_orderkey FROM lineitem rollup_shard_1
                 JOIN lineitem rollup_shard_2 USING (l_orderkey) WHERE rollup_shard_1.l_orderkey < 5$$,
               'ec_dist', 'ec_loc');
UPDATE ec_dist.lineitem SET note = 'ec_dist.lineitem rollup_shard_1' WHERE l_orderkey = 11;
UPDATE ec_loc.lineitem SET note = 'ec_dist.lineitem rollup_shard_1' WHERE l_orderkey = 11;
SELECT note FROM ec_dist.lineitem WHERE l_orderkey = 11;
SELECT compare($$SELECT * FROM lineitem$$, 'ec_dist', 'ec_loc');

-- Session settings a shipped expression depends on: the node computes what the coordinator would.
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'postgres_verbose';
SET extra_float_digits = 0;
SET bytea_output = 'escape';
SET default_text_search_config = 'pg_catalog.french';
SET TimeZone = 'Asia/Kolkata';
SELECT compare($$SELECT l_orderkey, format('%s|%s', l_shipdate, l_ts), concat(l_ts, '/', q::float8 / 3),
                        concat_ws(',', l_ts - l_shipdate::timestamptz, convert_to(note, 'UTF8'))
                   FROM lineitem WHERE l_orderkey < 20$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT l_orderkey, array_to_string(ARRAY[l_ts, l_ts + interval '1 day'], ';') FROM lineitem
                 WHERE l_orderkey BETWEEN 30 AND 40$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT to_tsvector(note || ' les chevaux'), to_tsquery('chevaux') @@ to_tsvector(note || ' chevaux')
                   FROM lineitem WHERE l_orderkey < 10$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT l_orderkey, l_ts, l_shipdate, l_ts - timestamptz '2024-01-01', q::float8 / 7 FROM lineitem
                 WHERE l_ts > '10/03/2024 12:00' ORDER BY 1 LIMIT 10$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT count(*) FROM lineitem WHERE to_char(l_shipdate, 'DD/MM/YYYY')::date = l_shipdate$$, 'ec_dist', 'ec_loc');
SELECT compare($$SELECT l_orderkey, ('-' || (l_orderkey % 5) || ' 2:00')::interval FROM lineitem WHERE l_orderkey < 20$$,
               'ec_dist', 'ec_loc');
RESET DateStyle;
RESET IntervalStyle;
RESET extra_float_digits;
RESET bytea_output;
RESET default_text_search_config;
RESET TimeZone;

DROP FUNCTION public.ec_limit();
DROP SCHEMA ec_dist CASCADE;
DROP SCHEMA ec_loc CASCADE;
DROP FUNCTION public.compare(text, text, text);
