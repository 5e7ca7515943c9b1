-- date_trunc in statements sent to shards is replaced by cheaper, equal forms (planner/time_buckets.cpp):
-- date_bin arithmetic where the session's time zone allows it, and comparisons of the column itself
-- for date_trunc(...) compared with a constant. Every query below runs on a distributed table and on
-- a local copy in many time zones (whole-hour, half-hour and 45-minute offsets, local mean time before
-- 1883/1937/1972, 30-minute DST, leap-second-free POSIX zones, a fixed interval); compare() reports
-- the rows that differ. The rows sit around DST changes and the zones' first aligned offsets.
SET rollup.next_shard_id = 470000;
CREATE SCHEMA dist;
CREATE SCHEMA loc;
\i sql/helpers/compare.sql

CREATE TABLE dist.ev (id int, t timestamptz, ts timestamp, v int);
SELECT create_distributed_table('dist.ev', 'id', shard_count => 8);
CREATE TABLE loc.ev (LIKE dist.ev);
INSERT INTO loc.ev (id, t, v)
SELECT row_number() OVER (), a + k * interval '173.000123 s' - interval '10 hours', k % 7
  FROM unnest(ARRAY['1850-06-01 12:00+00', '1883-11-18 17:00+00', '1937-07-01 00:00+00', '1972-01-07 00:44:30+00',
                    '1999-12-31 23:59+00', '2024-03-10 07:00+00', '2024-03-31 01:00+00', '2024-04-06 15:00+00',
                    '2024-10-27 01:00+00', '2024-11-03 06:00+00']::timestamptz[]) a,
       generate_series(0, 420) k;
UPDATE loc.ev SET ts = t AT TIME ZONE 'UTC' + (id % 3) * interval '1 hour 17 min 0.5 s';
INSERT INTO loc.ev VALUES (100001, NULL, NULL, 1), (100002, 'infinity', 'infinity', 2),
                          (100003, '-infinity', '-infinity', 3), (100004, '4713-11-24 00:00:00+00 BC', NULL, 4);
INSERT INTO dist.ev SELECT * FROM loc.ev;

-- The queries: each shape of the scan (partial aggregation, full aggregation, scan with filters,
-- whole-statement pushdown) and each comparison, constants on and off bucket boundaries.
CREATE TEMP TABLE q (n int, sql text);
INSERT INTO q VALUES
 (1, $$SELECT date_trunc('minute', t), count(*), sum(v) FROM ev GROUP BY 1$$),
 (2, $$SELECT id, date_trunc('minute', t), date_trunc('hour', t), date_trunc('second', t), date_trunc('milliseconds', t),
              date_trunc('microseconds', t) FROM ev$$),
 (3, $$SELECT id FROM ev WHERE date_trunc('minute', t) > '2024-11-03 01:30:30-04'$$),
 (4, $$SELECT id FROM ev WHERE date_trunc('minute', t) >= '2024-11-03 01:30:30-04'$$),
 (5, $$SELECT id FROM ev WHERE date_trunc('minute', t) < '2024-03-10 03:00:00-04'$$),
 (6, $$SELECT id FROM ev WHERE date_trunc('minute', t) <= '2024-03-10 03:00:00-04'$$),
 (7, $$SELECT id FROM ev WHERE date_trunc('minute', t) = '2024-03-31 02:14:00+00'$$),
 (8, $$SELECT id FROM ev WHERE date_trunc('minute', t) = '2024-03-31 02:14:30+00'$$),
 (9, $$SELECT id FROM ev WHERE '2024-10-27 02:00:00+01' < date_trunc('hour', t) AND date_trunc('hour', t) <= '2024-10-27 05:00+01'$$),
 (10, $$SELECT id FROM ev WHERE date_trunc('minute', t) BETWEEN '1883-11-18 11:00-05' AND '1883-11-18 13:00-05'$$),
 (11, $$SELECT id FROM ev WHERE date_trunc('minute', t) > '1850-06-01 05:00+00' AND date_trunc('minute', t) < '1850-06-01 09:00+00'$$),
 (12, $$SELECT id, v FROM ev WHERE date_trunc('second', t) >= '1999-12-31 23:59:59.5+00' OR date_trunc('minute', t) IS NULL$$),
 (13, $$SELECT id, date_trunc('minute', t) FROM ev WHERE NOT (date_trunc('hour', t) > '1937-07-01 00:00+00') AND v > 2$$),
 (14, $$SELECT id, date_trunc('minute', t) AS m, sum(v) FROM ev GROUP BY id, m HAVING sum(v) > 3$$),
 (15, $$SELECT date_trunc('minute', t) > '2024-04-06 16:00+00' AS late, count(*) FROM ev GROUP BY date_trunc('minute', t)$$),
 (16, $$SELECT count(*) FILTER (WHERE date_trunc('minute', t) < '2024-04-06 16:00+00'), max(date_trunc('hour', t)) FROM ev$$),
 (17, $$SELECT id, t FROM ev WHERE date_trunc('minute', t) > '1972-01-07 00:00+00' ORDER BY t, id LIMIT 7$$),
 (18, $$SELECT date_trunc('day', ts), date_trunc('hour', ts), count(*) FROM ev GROUP BY 1, 2$$),
 (19, $$SELECT id FROM ev WHERE date_trunc('minute', ts) > '2024-11-03 01:30:30' AND date_trunc('day', ts) <= '2024-11-04'$$),
 (20, $$SELECT id FROM ev WHERE date_trunc('minute', t) > 'infinity' OR date_trunc('minute', t) < '-infinity'
          OR date_trunc('minute', t) >= '294276-12-31 23:59:30+00'$$),
 (21, $$SELECT id FROM ev WHERE date_trunc('Minutes', t) > '2024-03-10 06:00+00' AND date_trunc('h', t) < '2024-03-10 12:00+00'$$),
 (22, $$SELECT id FROM ev WHERE date_trunc('minute', t) <@ tstzrange('2024-11-03 01:30:30-04', '2024-11-03 01:10-05', '(]')$$),
 (23, $$SELECT id FROM ev WHERE date_trunc('minute', t) <@ tstzrange('2024-03-10 01:59-05', '2024-03-10 03:01:30-04', '[)')$$),
 (24, $$SELECT id FROM ev WHERE tstzrange('1937-06-30 21:00+00', NULL) @> date_trunc('hour', t)
          AND date_trunc('minute', t) <@ tstzrange(NULL, '1937-07-01 04:00+00', '(]')$$),
 (25, $$SELECT id FROM ev WHERE date_trunc('minute', t) <@ 'empty'::tstzrange OR date_trunc('minute', ts) <@ tsrange('2024-10-27 01:00', '2024-10-27 02:00')$$);

SELECT z, n, compare(sql)
  FROM unnest(ARRAY['UTC', 'America/New_York', 'Europe/Amsterdam', 'Asia/Kolkata', 'Asia/Kathmandu',
                    'America/St_Johns', 'Australia/Lord_Howe', 'Africa/Monrovia', '<+0530>-05:30', 'PST8PDT'])
         WITH ORDINALITY AS zz (z, zn),
       q,
       LATERAL (SELECT set_config('timezone', z, false)) s
 ORDER BY zn, n;
SET TIME ZONE INTERVAL '+05:45' HOUR TO MINUTE;
SELECT n, compare(sql) FROM q ORDER BY n;

-- The rewrite happens (what a shard receives), and only where the zone allows it:
-- UTC: always date_bin; New York: date_bin from 1900, where the scan of its offsets starts (local
-- mean time until 1883), hours too;
-- Kolkata (+5:30): minutes from 1906 (+5:21:10 before), never hours; filters become comparisons of x.
SET timezone = 'UTC';
SELECT rollup.deparse_for_shard($$SELECT date_trunc('minute', t), date_trunc('hour', t) FROM dist.ev
                                  WHERE date_trunc('minute', t) > '2024-01-01 00:00:30+00'$$, 0);
SET timezone = 'America/New_York';
SELECT rollup.deparse_for_shard($$SELECT date_trunc('minute', t), date_trunc('hour', t) FROM dist.ev
                                  WHERE date_trunc('minute', t) = '2024-01-01 00:00:00'$$, 0);
SET timezone = 'Asia/Kolkata';
SELECT rollup.deparse_for_shard($$SELECT date_trunc('minute', t), date_trunc('hour', t) FROM dist.ev
                                  WHERE date_trunc('hour', t) > '2024-01-01 00:00:00'$$, 0);
-- the tutorial's rollup: its range filter becomes bounds on ingest_time
SELECT rollup.deparse_for_shard($$SELECT date_trunc('minute', t), count(*) FROM dist.ev
                                  WHERE date_trunc('minute', t) <@ tstzrange('2024-01-01 10:00', '2024-01-01 10:05', '(]')
                                  GROUP BY 1$$, 0);
-- a grouped target list keeps its comparison (t is not grouped there); timestamp without time zone
-- is left alone (its date_trunc is immutable: expression indexes are built on it)
SELECT rollup.deparse_for_shard($$SELECT date_trunc('minute', t) > '2024-01-01' AS late, count(*) FROM dist.ev
                                  GROUP BY date_trunc('minute', t)$$, 0);
SELECT rollup.deparse_for_shard($$SELECT date_trunc('day', ts) FROM dist.ev WHERE date_trunc('day', ts) < '2024-01-01 12:00'$$, 0);
-- switched off
SET rollup.rewrite_time_buckets = off;
SELECT rollup.deparse_for_shard($$SELECT date_trunc('minute', t) FROM dist.ev WHERE date_trunc('minute', t) > '2024-01-01'$$, 0);
RESET rollup.rewrite_time_buckets;
-- the dashboard's scan (aggregate pushdown) shows the rewritten shard statement under EXPLAIN ANALYZE
SET timezone = 'UTC';
CREATE FUNCTION pg_temp.shard_query(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        IF l LIKE '%Shard Query:%' OR l LIKE '%Query Parameters:%' THEN RETURN NEXT trim(l); END IF;
    END LOOP;
END
$$;
SELECT pg_temp.shard_query($$SELECT v, date_trunc('minute', t), count(*) FROM dist.ev
                             WHERE date_trunc('minute', t) > '2024-03-10 07:00+00' GROUP BY 1, 2$$);
RESET timezone;

-- Times stay in the statement's text, so a dashboard polling a moving window prepares a new
-- statement on each node connection per window: 300 windows are more than a connection keeps
-- (128), so the least recently used are deallocated on the way; every answer still equals the
-- local table's.
DO $$
DECLARE
    w int;
    got bigint;
    want bigint;
BEGIN
    FOR w IN 0..299 LOOP
        SELECT count(*) INTO got FROM dist.ev WHERE t >= timestamptz '2024-03-10 07:00+00' + w * interval '1 minute'
                                           AND t < timestamptz '2024-03-10 08:00+00' + w * interval '1 minute';
        SELECT count(*) INTO want FROM loc.ev WHERE t >= timestamptz '2024-03-10 07:00+00' + w * interval '1 minute'
                                           AND t < timestamptz '2024-03-10 08:00+00' + w * interval '1 minute';
        IF got <> want THEN
            RAISE EXCEPTION 'window %: % rows on the distributed table, % on the local one', w, got, want;
        END IF;
    END LOOP;
END $$;
SELECT 'every window equal' AS moving_windows;

DROP SCHEMA dist CASCADE;
DROP SCHEMA loc CASCADE;
DROP FUNCTION public.compare(text, text, text);
RESET rollup.next_shard_id;
