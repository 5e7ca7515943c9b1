-- What may be shipped to the shards, and in what form (issue 10's differential corpus findings):
-- every query runs on a distributed table (schema sf_dist) and on a local copy of the same rows
-- (schema sf_loc), compared by compare() (sql/helpers/compare.sql): "0 differences" cannot record a
-- wrong answer. Each section is one finding of FINDINGS F2..F8 (F5, the XML declaration, is a documented difference: docs/limitations.md).
SET rollup.next_shard_id = 498000;
CREATE SCHEMA sf_dist;
CREATE SCHEMA sf_loc;
\i sql/helpers/compare.sql
CREATE TABLE sf_dist.r (id int PRIMARY KEY, w text, v text, b bool, vb bit(8), tsv tsvector, d date,
                        iv interval, bt bytea, f8 float8);
INSERT INTO sf_dist.r VALUES
  (1, 'The Quick Brown Fox', 'x', true, B'00000001', 'a b', '2024-01-02', '1 day 2 hours', '\x41', 0.1),
  (2, 'Running RUNNING runs', 'ÄÖü', false, B'00000010', 'c', '2024-01-03', '-3 minutes', '\x42', 1/3.0),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE sf_loc.r AS TABLE sf_dist.r;
SELECT create_distributed_table('sf_dist.r', 'id', 4);
CREATE TABLE sf_dist.t2 (id int PRIMARY KEY, s text, d date);
INSERT INTO sf_dist.t2 VALUES (100, 'old', '2024-05-06');
CREATE TABLE sf_loc.t2 AS TABLE sf_dist.t2;
ALTER TABLE sf_loc.t2 ADD PRIMARY KEY (id);
SELECT create_distributed_table('sf_dist.t2', 'id', 4);
-- write_compare(stmt, table): runs a write on both sides, compares the table it wrote, and rolls
-- both back (an exception block); an error on either side is shown instead. A statement with
-- RETURNING (of one row) has its returned value compared too.
-- same_rows(q): q's rows in order on both sides, not wrapped in another query (compare() reads q
-- as a subquery, which keeps a whole-query pushdown from applying).
CREATE FUNCTION public.rows_of(q text, schema text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE rec record; res text := '';
BEGIN
    PERFORM set_config('search_path', schema || ', public', true);
    FOR rec IN EXECUTE q LOOP res := res || rec::text || ' '; END LOOP;
    PERFORM set_config('search_path', 'public', true);
    RETURN res;
END $fn$;
CREATE FUNCTION public.same_rows(q text) RETURNS text LANGUAGE sql AS $fn$
    SELECT CASE WHEN d = l THEN 'same: ' || d ELSE format('differ: %s (local: %s)', d, l) END
      FROM (SELECT rows_of(q, 'sf_dist') AS d, rows_of(q, 'sf_loc') AS l) x
$fn$;
CREATE FUNCTION public.write_compare(stmt text, tbl text DEFAULT 'r') RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE res text; rd text; rl text;
BEGIN
    BEGIN
        PERFORM set_config('search_path', 'sf_dist, public', true);
        IF stmt ~* '\mRETURNING\M' THEN EXECUTE stmt INTO rd; ELSE EXECUTE stmt; END IF;
        PERFORM set_config('search_path', 'sf_loc, public', true);
        IF stmt ~* '\mRETURNING\M' THEN EXECUTE stmt INTO rl; ELSE EXECUTE stmt; END IF;
        res := compare(format('SELECT * FROM %I', tbl), 'sf_dist', 'sf_loc');
        IF rd IS DISTINCT FROM rl THEN res := format('%s; RETURNING %s (local: %s)', res, rd, rl); END IF;
        RAISE EXCEPTION USING ERRCODE = 'RLBCK', MESSAGE = res;
    EXCEPTION
        WHEN SQLSTATE 'RLBCK' THEN res := SQLERRM;
        WHEN OTHERS THEN res := format('error %s: %s', SQLSTATE, SQLERRM);
    END;
    PERFORM set_config('search_path', 'public', true);
    RETURN res;
END $fn$;

-- F3. A simple CASE over a boolean: the planner simplifies "CaseTestExpr = true" to the bare
-- placeholder (and "= false" to NOT it), which ruleutils prints as CASE_TEST_EXPR.
SELECT compare($$SELECT count(*) FROM r WHERE CASE b WHEN true THEN 1 END IS NULL$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT id FROM r WHERE CASE b WHEN false THEN true ELSE false END$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT CASE b WHEN true THEN 'y' WHEN false THEN 'n' END AS c, count(*) FROM r GROUP BY 1$$,
               'sf_dist', 'sf_loc');
SELECT compare($$SELECT id, CASE b WHEN true THEN 1 ELSE 0 END AS c FROM r ORDER BY 2, 1 LIMIT 2$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT id, count(*) FILTER (WHERE CASE b WHEN false THEN true END) FROM r GROUP BY id$$,
               'sf_dist', 'sf_loc');
-- writes run the statement on the shards too
BEGIN;
UPDATE sf_dist.r SET v = CASE b WHEN true THEN 'yes' WHEN false THEN 'no' END WHERE CASE b WHEN true THEN true END;
UPDATE sf_loc.r SET v = CASE b WHEN true THEN 'yes' WHEN false THEN 'no' END WHERE CASE b WHEN true THEN true END;
SELECT compare($$SELECT id, v FROM r$$, 'sf_dist', 'sf_loc');
ROLLBACK;

-- F4. GROUP BY a type with equality but no hash support, without the distribution column: the
-- shards' partial groups cannot be combined in a hash table (was XX000 "could not find hash function
-- for hash operator"); PostgreSQL groups the fetched rows instead.
SELECT compare($$SELECT vb, count(*) FROM r GROUP BY 1$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT tsv, count(*), min(id) FROM r GROUP BY 1 HAVING count(*) > 0$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT vb, b, max(w) FROM r GROUP BY vb, b ORDER BY 1, 2$$, 'sf_dist', 'sf_loc');
EXPLAIN (COSTS OFF) SELECT vb, count(*) FROM sf_dist.r GROUP BY 1;
-- An array's equality hashes whatever its element type: an array of bit cannot be hashed either.
SELECT compare($$SELECT ARRAY[vb] AS a, count(*) FROM r GROUP BY 1$$, 'sf_dist', 'sf_loc');

-- F6. Writes that run on the shards (UPDATE, DELETE, ON CONFLICT DO UPDATE, their RETURNING, and
-- INSERT ... SELECT pushed down per shard pair) computed DateStyle / IntervalStyle /
-- extra_float_digits / bytea_output dependent values with the node sessions' canonical settings,
-- storing other data than PostgreSQL. INSERT ... SELECT now computes them on the coordinator; the
-- others are refused (0A000).
SET DateStyle = 'SQL, DMY';
SET extra_float_digits = 0;
SELECT write_compare($$INSERT INTO t2 SELECT id, d::text || ' ' || iv::text || ' ' || f8::text, d FROM r$$, 't2');
SELECT write_compare($$INSERT INTO t2 SELECT id, concat(d, iv, bt), (id || '/11/2024')::date FROM r$$, 't2');
SELECT write_compare($$UPDATE r SET v = d::text || ' ' || iv::text || ' ' || f8::text WHERE id = 1$$);
SELECT write_compare($$UPDATE r SET d = (id || '/11/2024')::date$$);
SELECT write_compare($$DELETE FROM r WHERE d::text = '02/01/2024'$$);
SELECT write_compare($$INSERT INTO t2 VALUES (100, 'new', '2024-07-08') ON CONFLICT (id) DO UPDATE SET s = t2.d::text$$, 't2');
SELECT write_compare($$UPDATE r SET v = 'z' WHERE id = 1 RETURNING iv::text$$);
-- values computed on the coordinator still ship: constants, and stable functions folded before
SELECT write_compare($$UPDATE r SET v = '2024-01-02'::date::text, d = '3/4/2024' WHERE id = 1$$);
SELECT write_compare($$UPDATE r SET d = '2024-01-01'::date + id WHERE id = 1 RETURNING id, d$$);
RESET extra_float_digits;
-- with PostgreSQL's default settings an interval's text differs too (the shards use ISO 8601)
-- JSON into a record reads each field with its column type's input function: refused on the shards.
SELECT write_compare($$UPDATE r SET d = (jsonb_populate_record(NULL::pg_catalog.pg_prepared_xacts, jsonb_build_object('prepared', '03/01/20' || (20 + id) || ' 10:00'))).prepared::date WHERE id = 1$$);
RESET DateStyle;
SELECT write_compare($$INSERT INTO t2 SELECT id, iv::text, d FROM r$$, 't2');
SELECT write_compare($$UPDATE r SET v = iv::text WHERE id = 1$$);

-- F8. Arrays (and rows) print their elements with the elements' output functions: an array of
-- dates cast to text depends on DateStyle like a date does (GROUP BY / ORDER BY shipped it).
SET DateStyle = 'SQL, DMY';
SELECT compare($$SELECT ARRAY[d]::text AS a, count(*) FROM r GROUP BY 1$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT id, ARRAY[d, d + 1]::text AS a FROM r ORDER BY 2, 1 LIMIT 2$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT count(*) FROM r WHERE ARRAY[iv]::text LIKE '%day%'$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT (ARRAY[d::timestamp, d + iv])::text AS a, count(*) FROM r GROUP BY 1$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT coalesce(ARRAY[d]::text, '-') AS a, count(*) FROM r GROUP BY 1$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT count(*) FROM r WHERE ('{' || id || '/11/2024}')::date[] = ARRAY[date '2024-11-01']$$,
               'sf_dist', 'sf_loc');
SELECT write_compare($$UPDATE r SET v = ARRAY[d]::text WHERE id = 1$$);
RESET DateStyle;

-- F7. Aggregates (and operators) whose declared argument is polymorphic or "any" print what they
-- get with its output function: json_agg / jsonb_agg / json_object_agg / string building over
-- intervals, bytea, floats depend on IntervalStyle, bytea_output, extra_float_digits.
SELECT compare($$SELECT id, jsonb_agg(iv ORDER BY iv) FROM r GROUP BY id$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT id, json_agg(iv) FROM r GROUP BY id$$, 'sf_dist', 'sf_loc');
SET bytea_output = escape;
SET extra_float_digits = 0;
SELECT compare($$SELECT id, json_agg(bt ORDER BY bt), json_object_agg(id, f8 ORDER BY id) FROM r GROUP BY id$$,
               'sf_dist', 'sf_loc');
SELECT compare($$SELECT id, jsonb_object_agg(w, f8) FILTER (WHERE w IS NOT NULL) FROM r GROUP BY id$$,
               'sf_dist', 'sf_loc');
SELECT same_rows($$SELECT id, f8 || '' AS t, bt || 'x'::text AS u FROM r ORDER BY 2, 1 LIMIT 3$$);
SELECT compare($$SELECT f8 || '' AS t, count(*) FROM r GROUP BY 1$$, 'sf_dist', 'sf_loc');
SELECT same_rows($$SELECT id, to_json(f8), json_build_object('b', bt) FROM r ORDER BY id LIMIT 3$$);
SELECT same_rows($$SELECT id, iv || '' AS t FROM r ORDER BY 2, 1 LIMIT 3$$);
SELECT same_rows($$SELECT id, jsonb_agg(iv) FROM r GROUP BY id ORDER BY id$$);
SELECT write_compare($$UPDATE r SET v = iv || '' WHERE id = 1$$);
RESET bytea_output;
RESET extra_float_digits;

-- Only what makes text of its arguments depends on their output settings: count(ts), array_agg,
-- array_append, array equality keep being computed on the shards (pushed down, allowed in writes
-- and in rollup queries); a range prints its bounds like its subtype (DMY below).
EXPLAIN (COSTS OFF) SELECT id % 2, count(d), count(iv) FROM sf_dist.r GROUP BY 1;
SELECT compare($$SELECT id % 2 AS k, count(d), count(iv), count(f8) FROM r GROUP BY 1$$, 'sf_dist', 'sf_loc');
SELECT write_compare($$UPDATE r SET v = cardinality(ARRAY[d, d])::text WHERE id = 1$$);
SET DateStyle = 'SQL, DMY';
SELECT compare($$SELECT count(*) FROM r WHERE daterange(d, d + 1)::text LIKE '[02/%'$$, 'sf_dist', 'sf_loc');
SELECT write_compare($$UPDATE r SET v = daterange(d, d + 1)::text WHERE id = 1$$);
RESET DateStyle;

-- A rollup's INSERT converts on the shards: an assignment cast through text of a settings-dependent
-- value is refused at create_rollup; count() of a float (which prints nothing) is fine.
CREATE TABLE sf_dist.ev (site int, t timestamptz, f8 float8);
SELECT create_distributed_table('sf_dist.ev', 'site', 4);
CREATE TABLE sf_dist.ev_text (site int, t timestamptz, n int, mx text);
SELECT create_distributed_table('sf_dist.ev_text', 'site', 4, colocate_with => 'sf_dist.ev');
SELECT rollup.create_rollup('sf_text_rollup', 'sf_dist.ev_text', $$
  SELECT site, date_trunc('minute', t) AS t, count(f8) AS n, max(f8) AS mx FROM sf_dist.ev GROUP BY 1, 2 $$);
CREATE TABLE sf_dist.ev_num (site int, t timestamptz, n int, mx float8);
SELECT create_distributed_table('sf_dist.ev_num', 'site', 4, colocate_with => 'sf_dist.ev');
SELECT rollup.create_rollup('sf_num_rollup', 'sf_dist.ev_num', $$
  SELECT site, date_trunc('minute', t) AS t, count(f8) AS n, max(f8) AS mx FROM sf_dist.ev GROUP BY 1, 2 $$);
INSERT INTO sf_dist.ev VALUES (1, '2024-01-02 10:00:30+00', 0.1), (1, '2024-01-02 10:00:40+00', NULL);
SELECT rollup.run_rollup('sf_num_rollup') > 0 AS wrote;
SELECT site, t, n, mx FROM sf_dist.ev_num;
SELECT rollup.drop_rollup('sf_num_rollup');

-- F2. An explicit COLLATE reaches the shards: on a constant (sent as a parameter, which carries its
-- collation only in the tree) and on a column (folded into a relabeling that ruleutils prints as a
-- plain cast). "und-x-icu" orders 'ÄÖü' and mixed case differently from the database's "C".
SELECT compare($$SELECT count(*) FROM r WHERE w < 'm' COLLATE "und-x-icu"$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT count(*) FROM r WHERE v COLLATE "und-x-icu" < 'Z'$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT count(*) FROM r WHERE w COLLATE "und-x-icu" < v$$, 'sf_dist', 'sf_loc');
SELECT compare($$SELECT w < 'm' COLLATE "und-x-icu" AS lt, count(*) FROM r GROUP BY 1$$, 'sf_dist', 'sf_loc');
SELECT same_rows($$SELECT id FROM r WHERE v IS NOT NULL ORDER BY v COLLATE "und-x-icu", id$$);
SET rollup.prepare_node_statements = off;
SELECT compare($$SELECT count(*) FROM r WHERE w < 'm' COLLATE "und-x-icu"$$, 'sf_dist', 'sf_loc');
RESET rollup.prepare_node_statements;

-- F5. xml values are written to the shards as they are stored: xml's output (and send) function drops
-- a plain version-1.0 declaration, which x::text on the shard would then lack. (Reading an xml value
-- back through the coordinator still passes the node's xml_out: docs/limitations.md.)
CREATE TABLE sf_dist.x (id int, x xml);
SELECT create_distributed_table('sf_dist.x', 'id', 4);
INSERT INTO sf_dist.x VALUES (1, '<?xml version="1.0"?><r a="1"/>'), (2, '<r/>');
INSERT INTO sf_dist.x SELECT 3, '<?xml version="1.0"?><s/>'::xml;
CREATE TABLE sf_loc.x (id int, x xml);
INSERT INTO sf_loc.x VALUES (1, '<?xml version="1.0"?><r a="1"/>'), (2, '<r/>');
INSERT INTO sf_loc.x SELECT 3, '<?xml version="1.0"?><s/>'::xml;
SELECT compare($$SELECT x::text AS t, count(*) FROM x GROUP BY 1$$, 'sf_dist', 'sf_loc');
COPY sf_dist.x FROM stdin;
4	<?xml version="1.0"?><c/>
\.
COPY sf_loc.x FROM stdin;
4	<?xml version="1.0"?><c/>
\.
SELECT compare($$SELECT x::text AS t, count(*) FROM x GROUP BY 1$$, 'sf_dist', 'sf_loc');
-- A declaration naming another encoding: the coordinator's xml input ignores it; a node must too
-- (a binary COPY would have the node read the bytes as LATIN1).
-- (1,200 rows: the router streams them to the shards with COPY.)
INSERT INTO sf_dist.x SELECT g, '<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>' FROM generate_series(5, 1204) g;
INSERT INTO sf_loc.x SELECT g, '<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>' FROM generate_series(5, 1204) g;
SELECT compare($$SELECT x::text AS t, count(*) FROM x WHERE id >= 5 GROUP BY 1$$, 'sf_dist', 'sf_loc');

DROP SCHEMA sf_dist CASCADE;
DROP SCHEMA sf_loc CASCADE;
DROP FUNCTION public.write_compare(text, text);
DROP FUNCTION public.same_rows(text);
DROP FUNCTION public.rows_of(text, text);
DROP FUNCTION public.compare(text, text, text);
