-- Differential tests of joins and LIMIT pushdown: every query runs on distributed tables (schema
-- dj) and on local copies with the same rows (schema lj), and the rows are compared both ways
-- (EXCEPT ALL on the rows' text form). The query is the whole statement of a CREATE TABLE AS
-- (not a subquery), so that it takes the plan it would take on its own: pushdown when the tables
-- are co-located and joined on their distribution columns, the fallback otherwise. EXPLAIN shows
-- which class a query took.
SET rollup.next_shard_id = 440000;
CREATE SCHEMA dj;
CREATE SCHEMA lj;

CREATE FUNCTION public.compare_top(q text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    n_dist bigint;
    n_loc bigint;
    missing bigint;
    extra bigint;
BEGIN
    PERFORM set_config('search_path', 'dj, public', true);
    EXECUTE format('CREATE TEMP TABLE r_dist AS %s', q);
    PERFORM set_config('search_path', 'lj, public', true);
    EXECUTE format('CREATE TEMP TABLE r_loc AS %s', q);
    PERFORM set_config('search_path', 'public', true);
    SELECT count(*) INTO n_dist FROM r_dist;
    SELECT count(*) INTO n_loc FROM r_loc;
    SELECT count(*) INTO missing FROM (SELECT x::text FROM r_loc x EXCEPT ALL SELECT x::text FROM r_dist x) m;
    SELECT count(*) INTO extra FROM (SELECT x::text FROM r_dist x EXCEPT ALL SELECT x::text FROM r_loc x) e;
    DROP TABLE r_dist, r_loc;
    IF n_dist <> n_loc THEN
        RETURN format('%s differences, %s rows (local: %s rows)', missing + extra, n_dist, n_loc);
    END IF;
    RETURN format('%s differences, %s rows', missing + extra, n_dist);
END
$fn$;

-- customers, orders and items: co-located on customer_id (int, 32 shards); some customers
-- have no orders, some orders no customer (left and full joins), NULLs in other columns.
CREATE TABLE dj.customers (customer_id int, name text, region text, since date);
CREATE TABLE dj.orders (customer_id int, order_id int, amount numeric(10,2), status text, placed timestamptz);
CREATE TABLE dj.items (customer_id int, order_id int, sku text, qty int, price numeric(10,2));
-- not co-located: another distribution type, another shard count
CREATE TABLE dj.accounts (account_id bigint, customer_id int, plan text);
CREATE TABLE dj.visits (customer_id int, page text, ms int);
-- a local table (on the coordinator in both schemas)
CREATE TABLE dj.regions (region text, label text);
INSERT INTO dj.customers
SELECT i, 'c' || i, (ARRAY['eu', 'us', 'apac', NULL])[1 + i % 4], date '2020-01-01' + (i * 17 % 1000)
  FROM generate_series(1, 300) i;
INSERT INTO dj.orders
SELECT (i * 7) % 340, i, CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 37 % 5000) / 10.0 END,
       (ARRAY['new', 'paid', 'shipped', 'void'])[1 + i % 4],
       '2024-01-01 00:00:00+00'::timestamptz + i * interval '41 minutes'
  FROM generate_series(1, 2000) i;
INSERT INTO dj.items
SELECT o.customer_id, o.order_id, 'sku' || (o.order_id * j % 23), j, (o.order_id * j % 700) / 7.0
  FROM dj.orders o, generate_series(1, 3) j WHERE o.order_id % 5 <> 0;
INSERT INTO dj.accounts SELECT i * 3, i, (ARRAY['free', 'pro'])[1 + i % 2] FROM generate_series(1, 250) i;
INSERT INTO dj.visits SELECT i % 280, '/p' || (i % 9), i % 900 FROM generate_series(1, 1500) i;
INSERT INTO dj.regions VALUES ('eu', 'Europe'), ('us', 'United States'), ('apac', 'Asia Pacific');
CREATE TABLE lj.customers AS SELECT * FROM dj.customers;
CREATE TABLE lj.orders AS SELECT * FROM dj.orders;
CREATE TABLE lj.items AS SELECT * FROM dj.items;
CREATE TABLE lj.accounts AS SELECT * FROM dj.accounts;
CREATE TABLE lj.visits AS SELECT * FROM dj.visits;
CREATE TABLE lj.regions AS SELECT * FROM dj.regions;
SELECT create_distributed_table('dj.customers', 'customer_id', colocate_with => 'none');
-- (explicitly co-located: with tests running alongside, 'default' may find another int group)
SELECT create_distributed_table('dj.orders', 'customer_id', colocate_with => 'dj.customers');
SELECT create_distributed_table('dj.items', 'customer_id', colocate_with => 'dj.customers');
SELECT create_distributed_table('dj.accounts', 'account_id');
SELECT create_distributed_table('dj.visits', 'customer_id', shard_count => 8);

-- The class a query takes: from the "Distributed:" lines of its plan (fallback: "scan").
CREATE FUNCTION public.plan_class(q text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    line text;
    classes text[] := '{}';
BEGIN
    PERFORM set_config('search_path', 'dj, public', true);
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF line ~ 'Distributed: ' THEN
            classes := classes || substring(line FROM 'Distributed: (.*)$');
        END IF;
    END LOOP;
    PERFORM set_config('search_path', 'public', true);
    RETURN array_to_string(classes, ', ');
END
$fn$;

CREATE TABLE queries (n serial, q text);
INSERT INTO queries (q) VALUES
-- inner joins on the distribution column
($$SELECT c.customer_id, c.name, o.order_id, o.amount FROM customers c JOIN orders o ON o.customer_id = c.customer_id$$),
($$SELECT c.name, o.order_id FROM customers c, orders o WHERE c.customer_id = o.customer_id AND o.status = 'paid'$$),
($$SELECT * FROM customers c JOIN orders o USING (customer_id) WHERE c.region = 'eu' AND o.amount > 100$$),
($$SELECT o.order_id, i.sku, i.qty * i.price AS total FROM orders o JOIN items i ON i.customer_id = o.customer_id AND i.order_id = o.order_id$$),
($$SELECT c.name, o.order_id, i.sku FROM customers c JOIN orders o ON o.customer_id = c.customer_id JOIN items i ON i.customer_id = o.customer_id AND i.order_id = o.order_id WHERE i.qty = 2$$),
($$SELECT c.customer_id, o.order_id FROM customers c JOIN orders o ON c.customer_id = o.customer_id WHERE c.customer_id = 42$$),
($$SELECT c.customer_id, o.order_id FROM customers c JOIN orders o ON c.customer_id = o.customer_id WHERE o.customer_id IN (7, 8, 9)$$),
($$SELECT c.customer_id, o.amount FROM customers c JOIN orders o ON c.customer_id = o.customer_id WHERE o.placed > '2024-02-01 00:00:00+00'::timestamptz - interval '1 day' AND c.since < current_date$$),
-- outer joins with the equality in the join condition
($$SELECT c.customer_id, o.order_id FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id$$),
($$SELECT c.customer_id, o.order_id FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id AND o.status = 'void' WHERE o.order_id IS NULL$$),
($$SELECT o.order_id, c.name FROM customers c RIGHT JOIN orders o ON o.customer_id = c.customer_id$$),
($$SELECT c.customer_id AS c_id, o.customer_id AS o_id, o.order_id FROM customers c FULL JOIN orders o ON o.customer_id = c.customer_id$$),
($$SELECT customer_id, c.name, o.order_id FROM customers c FULL JOIN orders o USING (customer_id)$$),
($$SELECT c.customer_id, o.order_id, i.sku FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id LEFT JOIN items i ON i.customer_id = o.customer_id AND i.order_id = o.order_id$$),
-- GROUP BY with the distribution column: the whole query per shard
($$SELECT c.customer_id, count(*) AS n, sum(o.amount) AS total FROM customers c JOIN orders o ON o.customer_id = c.customer_id GROUP BY c.customer_id$$),
($$SELECT c.customer_id, c.name, count(o.order_id) AS n FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id GROUP BY c.customer_id, c.name HAVING count(o.order_id) > 5$$),
($$SELECT o.customer_id, avg(i.price) AS avg_price, max(i.qty) AS mq FROM orders o JOIN items i ON i.customer_id = o.customer_id AND i.order_id = o.order_id GROUP BY o.customer_id ORDER BY avg_price DESC, o.customer_id LIMIT 10$$),
($$SELECT DISTINCT c.region, o.status FROM customers c JOIN orders o ON o.customer_id = c.customer_id$$),
-- GROUP BY without the distribution column, or on the nullable side: aggregated on the coordinator
($$SELECT c.region, count(*) AS n, sum(o.amount) AS total, avg(o.amount) AS mean FROM customers c JOIN orders o ON o.customer_id = c.customer_id GROUP BY c.region$$),
($$SELECT count(*) AS n, count(DISTINCT o.status) AS s FROM customers c JOIN orders o ON o.customer_id = c.customer_id$$),
($$SELECT o.customer_id, count(*) AS n FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id GROUP BY o.customer_id$$),
($$SELECT o.status, string_agg(c.name, ',' ORDER BY c.name, o.order_id) AS names FROM customers c JOIN orders o ON o.customer_id = c.customer_id WHERE c.customer_id < 20 GROUP BY o.status$$),
($$SELECT c.customer_id, o.order_id, rank() OVER (PARTITION BY c.region ORDER BY o.amount DESC NULLS LAST, o.order_id) AS r FROM customers c JOIN orders o ON o.customer_id = c.customer_id$$),
-- ORDER BY / LIMIT / OFFSET on the coordinator (and LIMIT n + m on the shards)
($$SELECT c.customer_id, o.order_id, o.amount FROM customers c JOIN orders o ON o.customer_id = c.customer_id ORDER BY o.amount DESC NULLS LAST, o.order_id LIMIT 15$$),
($$SELECT c.name, o.order_id FROM customers c JOIN orders o ON o.customer_id = c.customer_id ORDER BY o.order_id LIMIT 10 OFFSET 30$$),
($$SELECT o.order_id FROM customers c JOIN orders o ON o.customer_id = c.customer_id ORDER BY c.name, o.order_id DESC LIMIT 7$$),
($$SELECT DISTINCT o.status FROM customers c JOIN orders o ON o.customer_id = c.customer_id ORDER BY o.status LIMIT 2$$),
($$SELECT DISTINCT ON (c.region) c.region, o.order_id, o.amount FROM customers c JOIN orders o ON o.customer_id = c.customer_id ORDER BY c.region, o.amount DESC NULLS LAST, o.order_id$$),
($$SELECT c.customer_id, sum(o.amount) AS total, rank() OVER (ORDER BY sum(o.amount) DESC NULLS LAST, c.customer_id) AS r FROM customers c JOIN orders o ON o.customer_id = c.customer_id GROUP BY c.customer_id$$),
($$SELECT count(*) AS n FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id WHERE o.status IS DISTINCT FROM 'void' HAVING count(*) > 0$$),
($$SELECT c.region, o.status, count(*) AS n FROM customers c JOIN orders o ON o.customer_id = c.customer_id GROUP BY ROLLUP (c.region, o.status)$$),
($$SELECT c.customer_id, o.placed::date AS day, o.amount * 2 AS double, now() - o.placed > interval '1 day' AS old FROM customers c JOIN orders o ON o.customer_id = c.customer_id WHERE c.customer_id BETWEEN 10 AND 60$$),
-- self-joins
($$SELECT a.order_id AS a_id, b.order_id AS b_id FROM orders a JOIN orders b ON a.customer_id = b.customer_id AND a.order_id < b.order_id WHERE a.status = 'void'$$),
($$SELECT a.customer_id, count(*) AS pairs FROM orders a JOIN orders b ON b.customer_id = a.customer_id GROUP BY a.customer_id$$),
-- joins with a local table, non-co-located joins, joins not on the distribution column: fallback
($$SELECT c.customer_id, r.label FROM customers c JOIN regions r ON r.region = c.region$$),
($$SELECT c.customer_id, a.plan FROM customers c JOIN accounts a ON a.account_id = c.customer_id$$),
($$SELECT c.customer_id, count(v.page) AS n FROM customers c LEFT JOIN visits v ON v.customer_id = c.customer_id GROUP BY c.customer_id$$),
($$SELECT c.customer_id, o.order_id FROM customers c JOIN orders o ON o.order_id = c.customer_id$$),
($$SELECT c.customer_id, o.order_id FROM customers c LEFT JOIN orders o ON o.order_id = c.customer_id WHERE o.customer_id = c.customer_id$$),
($$SELECT c.customer_id, o.order_id FROM customers c JOIN orders o ON o.customer_id = c.customer_id WHERE o.order_id IN (SELECT order_id FROM items WHERE qty = 3)$$),
($$WITH big AS (SELECT * FROM orders WHERE amount > 400) SELECT c.name, big.order_id FROM customers c JOIN big ON big.customer_id = c.customer_id$$),
-- LIMIT pushdown on one table
($$SELECT order_id, amount FROM orders ORDER BY amount DESC NULLS LAST, order_id LIMIT 5$$),
($$SELECT order_id FROM orders WHERE status = 'paid' ORDER BY placed, order_id LIMIT 3 OFFSET 4$$),
($$SELECT order_id, status FROM orders ORDER BY status, order_id DESC LIMIT 0$$),
($$SELECT order_id FROM orders ORDER BY order_id FETCH FIRST 4 ROWS WITH TIES$$);

SELECT n, compare_top(q), plan_class(q) FROM queries ORDER BY n;

-- Prepared statements: parameters folded at execution, then pruned (the sixth run is generic).
PREPARE j(int) AS SELECT c.name, o.order_id FROM dj.customers c JOIN dj.orders o ON o.customer_id = c.customer_id WHERE c.customer_id = $1 ORDER BY o.order_id;
EXECUTE j(49);
EXECUTE j(49);
EXECUTE j(49);
EXECUTE j(49);
EXECUTE j(49);
EXECUTE j(49);
EXECUTE j(56);
SELECT c.name, o.order_id FROM lj.customers c JOIN lj.orders o ON o.customer_id = c.customer_id WHERE c.customer_id IN (49, 56) ORDER BY o.order_id;
DEALLOCATE j;

-- PL/pgSQL variables are parameters too.
CREATE FUNCTION dj.orders_of(cid int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    SELECT count(*) INTO n FROM dj.customers c JOIN dj.orders o ON o.customer_id = c.customer_id WHERE c.customer_id = cid;
    RETURN n;
END $$;
SELECT cid, dj.orders_of(cid),
       (SELECT count(*) FROM lj.customers c JOIN lj.orders o ON o.customer_id = c.customer_id WHERE c.customer_id = cid) AS local
  FROM unnest(ARRAY[49, 56, 299, 1000]) cid;

-- Permissions are checked on the tables of the statement, which the rewritten plan keeps.
CREATE ROLE dj_reader;
GRANT USAGE ON SCHEMA dj TO dj_reader;
SET ROLE dj_reader;
SELECT count(*) FROM dj.customers c JOIN dj.orders o ON o.customer_id = c.customer_id;
SELECT customer_id FROM dj.customers ORDER BY customer_id LIMIT 2;
RESET ROLE;
REVOKE ALL ON SCHEMA dj FROM dj_reader;
DROP ROLE dj_reader;

-- Plan classes.
SET search_path = dj, public;
EXPLAIN (COSTS OFF) SELECT c.name, o.order_id FROM customers c JOIN orders o ON o.customer_id = c.customer_id WHERE o.status = 'paid';
EXPLAIN (COSTS OFF) SELECT c.customer_id, count(*) FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id GROUP BY c.customer_id ORDER BY 2 DESC LIMIT 3;
EXPLAIN (COSTS OFF) SELECT c.region, count(*) FROM customers c JOIN orders o ON o.customer_id = c.customer_id GROUP BY c.region;
EXPLAIN (COSTS OFF) SELECT c.name, o.order_id FROM customers c JOIN orders o ON o.customer_id = c.customer_id WHERE c.customer_id = 42;
EXPLAIN (COSTS OFF) SELECT order_id FROM orders ORDER BY amount DESC NULLS LAST, order_id LIMIT 5 OFFSET 2;
-- fallback: a local table, a table of another co-location group, a join not on the distribution column
EXPLAIN (COSTS OFF) SELECT c.customer_id, r.label FROM customers c JOIN regions r ON r.region = c.region;
EXPLAIN (COSTS OFF) SELECT c.customer_id, v.page FROM customers c JOIN visits v ON v.customer_id = c.customer_id;
EXPLAIN (COSTS OFF) SELECT c.customer_id FROM customers c JOIN orders o ON o.order_id = c.customer_id;
RESET search_path;

DROP TABLE queries;
DROP FUNCTION compare_top(text);
DROP FUNCTION plan_class(text);
DROP SCHEMA dj CASCADE;
DROP SCHEMA lj CASCADE;
RESET rollup.next_shard_id;
