--
-- Local execution of writes: with shards on the coordinator itself (single-node mode), INSERT,
-- COPY, UPDATE, DELETE and INSERT ... SELECT run in the coordinator's own backend and transaction,
-- with no loopback connection. Every result is compared with a plain local twin table.
-- The workers are removed first (no table is distributed at this point) and added back later for
-- the mixed local + worker transaction.
--
CREATE FUNCTION pg_temp.error_of(command text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; message text; detail text;
BEGIN
    EXECUTE command;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN concat_ws(E'\n', state || ': ' || message, 'DETAIL: ' || nullif(detail, ''));
END $$;
-- Locks this backend holds on the shards of a table: proof that the write ran here.
CREATE FUNCTION pg_temp.my_shard_locks(tbl text) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
     WHERE l.pid = pg_backend_pid() AND l.mode = 'RowExclusiveLock' AND c.relname ~ ('^' || tbl || '_[0-9]+$')
$$;
SELECT rollup.remove_node('127.0.0.1', current_setting('regress.worker_1_port')::int);
SELECT rollup.remove_node('127.0.0.1', current_setting('regress.worker_2_port')::int);
SET rollup.next_shard_id TO 410000;

CREATE TABLE lx (id int, k int NOT NULL, v text, n numeric CHECK (n >= 0), d date DEFAULT '2024-01-01',
                 UNIQUE (id, k));
CREATE TABLE lx_twin (LIKE lx INCLUDING ALL);
SELECT create_distributed_table('lx', 'id', 8, colocate_with => 'none');
SELECT count(*) AS coordinator_shards FROM rollup.shards s JOIN rollup.nodes n USING (nodeid)
 WHERE s.table_name = 'lx'::regclass AND n.is_coordinator;

-- Same statements on both tables.
CREATE FUNCTION pg_temp.both(sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE replace(sql, 'TBL', 'lx');
    EXECUTE replace(sql, 'TBL', 'lx_twin');
END $$;
-- Rows only in one of them (empty when identical), and rows stored in the wrong shard.
CREATE FUNCTION pg_temp.diff() RETURNS TABLE (side text, id int, k int, v text, n numeric, d date)
LANGUAGE sql AS $$
    (SELECT 'only distributed', * FROM lx EXCEPT ALL SELECT 'only distributed', * FROM lx_twin)
    UNION ALL
    (SELECT 'only twin', * FROM lx_twin EXCEPT ALL SELECT 'only twin', * FROM lx)
$$;
CREATE FUNCTION pg_temp.misplaced() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE s record; bad bigint := 0; c bigint;
BEGIN
    FOR s IN SELECT shardid, shard_name FROM rollup.shards WHERE table_name = 'lx'::regclass LOOP
        EXECUTE format('SELECT count(*) FROM %s WHERE rollup.shard_for_value(%L, id::text) <> %s',
                       s.shard_name, 'lx', s.shardid) INTO c;
        bad := bad + c;
    END LOOP;
    RETURN bad;
END $$;

-- INSERT: single row, multi-row, defaults, RETURNING (computed on the coordinator).
INSERT INTO lx (id, k, v, n) VALUES (1, 1, 'one', 1.5) RETURNING *;
INSERT INTO lx_twin (id, k, v, n) VALUES (1, 1, 'one', 1.5);
SELECT pg_temp.both($$INSERT INTO TBL (id, k, v, n, d) SELECT i, i % 7, 'row ' || i, i / 4.0, '2024-02-01'::date + i
                        FROM generate_series(2, 300) i$$);
SELECT pg_temp.both($$INSERT INTO TBL (id, k, v) VALUES (400, 0, NULL), (401, 1, E'tab\there'), (402, 2, 'quote''s')$$);
SELECT count(*) FROM lx;
SELECT * FROM pg_temp.diff();
SELECT pg_temp.misplaced() AS misplaced;

-- A batch larger than one statement (1000 rows) and COPY: stored directly, no text round trip.
SELECT pg_temp.both($$INSERT INTO TBL (id, k, v, n) SELECT i, -i, md5(i::text), i FROM generate_series(1000, 3999) i$$);
COPY lx (id, k, v, n, d) FROM STDIN;
5000	1	copied	0	2024-03-01
5001	2	\N	7.25	2024-03-02
5002	3	back\\slash	8	\N
\.
COPY lx_twin (id, k, v, n, d) FROM STDIN;
5000	1	copied	0	2024-03-01
5001	2	\N	7.25	2024-03-02
5002	3	back\\slash	8	\N
\.
SELECT count(*) FROM lx;
SELECT * FROM pg_temp.diff();
SELECT pg_temp.misplaced() AS misplaced;

-- ON CONFLICT goes through an INSERT statement run locally; RETURNING comes from the shard.
INSERT INTO lx (id, k, v) VALUES (1, 1, 'conflict'), (9000, 1, 'new')
    ON CONFLICT (id, k) DO UPDATE SET v = excluded.v RETURNING id, k, v;
INSERT INTO lx_twin (id, k, v) VALUES (1, 1, 'conflict'), (9000, 1, 'new')
    ON CONFLICT (id, k) DO UPDATE SET v = excluded.v;
SELECT pg_temp.both($$INSERT INTO TBL (id, k) VALUES (1, 1) ON CONFLICT DO NOTHING$$);
SELECT * FROM pg_temp.diff();

-- UPDATE / DELETE, one shard and all shards.
UPDATE lx SET v = 'updated' WHERE id = 7 RETURNING id, v;
UPDATE lx_twin SET v = 'updated' WHERE id = 7;
SELECT pg_temp.both($$UPDATE TBL SET n = n * 2 WHERE k < 0 AND id % 3 = 0$$);
SELECT pg_temp.both($$DELETE FROM TBL WHERE id BETWEEN 2000 AND 2999$$);
DELETE FROM lx WHERE id = 8 RETURNING id, k, v;
DELETE FROM lx_twin WHERE id = 8;
SELECT count(*) FROM lx;
SELECT * FROM pg_temp.diff();
-- Reads that need no column of the table (count(*) over UNION ALL, EXISTS) still count every row
-- when the shards are read in this backend: against the twin.
SELECT (SELECT count(*) FROM (SELECT * FROM lx UNION ALL SELECT * FROM lx WHERE k > 0) u) =
       (SELECT count(*) FROM (SELECT * FROM lx_twin UNION ALL SELECT * FROM lx_twin WHERE k > 0) u) AS union_count_same,
       (SELECT count(*) FROM (SELECT * FROM lx UNION ALL SELECT * FROM lx WHERE k > 0) u) > 0 AS rows_seen;
SELECT (SELECT count(*) FROM lx_twin t WHERE EXISTS (SELECT FROM lx WHERE lx.k > 0)) =
       (SELECT count(*) FROM lx_twin t WHERE EXISTS (SELECT FROM lx_twin WHERE k > 0)) AS exists_same;

-- Constraints of the shards are enforced, with their SQLSTATEs.
SELECT pg_temp.error_of($$INSERT INTO lx (id, k) VALUES (20, NULL)$$);
SELECT pg_temp.error_of($$INSERT INTO lx (id, k, n) VALUES (20, 1, -1)$$);
SELECT pg_temp.error_of($$INSERT INTO lx (id, k) VALUES (1, 1)$$);
SELECT pg_temp.error_of($$INSERT INTO lx (id, k) SELECT 30, 5 FROM generate_series(1, 2)$$);
SELECT pg_temp.error_of($$INSERT INTO lx (id, k) SELECT i, 1 FROM generate_series(100000, 102000) i
                          UNION ALL SELECT 100500, 1$$);
SELECT pg_temp.error_of($$UPDATE lx SET n = -5 WHERE id = 3$$);
SELECT pg_temp.error_of($$INSERT INTO lx (id, k) VALUES (NULL, 1)$$);
SELECT * FROM pg_temp.diff();

-- COPY stores rows in batches (one budget for all shards, ~1000 rows): a COPY of 5000 rows spans
-- several batches, and every row lands once, in its shard, with or without its default.
-- (Data files in the server's data directory: other clusters on this machine run this test too.)
SELECT current_setting('data_directory') || '/rollup_local_copy_' AS copy_prefix \gset
\set f_ok :copy_prefix 'ok.data'
\set f_default :copy_prefix 'default.data'
\set f_dup :copy_prefix 'dup.data'
\set f_check :copy_prefix 'check.data'
\set f_dup2 :copy_prefix 'dup2.data'
COPY (SELECT 200000 + i, i % 5, 'copy ' || i, i % 100, CASE WHEN i % 7 = 0 THEN NULL ELSE '2024-06-01'::date + i % 30 END
        FROM generate_series(1, 5000) g(i) ORDER BY g.i) TO :'f_ok';
COPY lx (id, k, v, n, d) FROM :'f_ok';
COPY lx_twin (id, k, v, n, d) FROM :'f_ok';
COPY (SELECT 210000 + i, i % 5, repeat('x', i % 200) FROM generate_series(1, 3000) g(i) ORDER BY g.i)
  TO :'f_default';
COPY lx (id, k, v) FROM :'f_default';
COPY lx_twin (id, k, v) FROM :'f_default';
SELECT count(*) FROM lx WHERE id >= 200000;
SELECT * FROM pg_temp.diff();
SELECT pg_temp.misplaced() AS misplaced;
-- A unique violation found while a late batch is stored names the failing row's line, like
-- PostgreSQL's COPY (line 4500 repeats line 10, stored in the first batch); a CHECK violation
-- names its line too. Either way nothing of the COPY is stored.
COPY (SELECT CASE WHEN i = 4500 THEN 300010 ELSE 300000 + i END, i % 5, 'dup ' || i
        FROM generate_series(1, 5000) g(i) ORDER BY g.i) TO :'f_dup';
COPY (SELECT 400000 + i, i % 5, CASE WHEN i = 4000 THEN -1 ELSE i END
        FROM generate_series(1, 5000) g(i) ORDER BY g.i) TO :'f_check';
COPY lx (id, k, v) FROM :'f_dup';
COPY lx_twin (id, k, v) FROM :'f_dup';
COPY lx (id, k, n) FROM :'f_check';
COPY lx_twin (id, k, n) FROM :'f_check';
-- the duplicate in the same batch as its first occurrence (lines 4999 and 5000 at the end)
COPY (SELECT 500000 + least(i, 4999), i % 5 + CASE WHEN i = 5000 THEN 4 ELSE 0 END
        FROM generate_series(1, 5000) g(i) ORDER BY g.i) TO :'f_dup2';
COPY lx (id, k) FROM :'f_dup2';
COPY lx_twin (id, k) FROM :'f_dup2';
SELECT count(*) FROM lx WHERE id >= 300000;
SELECT * FROM pg_temp.diff();
SELECT pg_temp.both($$DELETE FROM TBL WHERE id >= 200000$$);

-- Read-your-writes: inside a transaction, reads of the coordinator's shards (multi-shard too)
-- run here, and see the rows written here.
BEGIN;
INSERT INTO lx (id, k, v) VALUES (50000, 1, 'in xact'), (50001, 2, 'in xact');
SELECT pg_temp.my_shard_locks('lx') > 0 AS written_here;
SELECT count(*) FROM lx WHERE v = 'in xact';
SELECT id, v FROM lx WHERE id = 50001;
SELECT k, count(*) FROM lx WHERE v = 'in xact' GROUP BY k ORDER BY k;
UPDATE lx SET v = 'in xact 2' WHERE v = 'in xact';
SELECT count(*) FROM lx WHERE v = 'in xact 2';
COPY lx (id, k, v) FROM STDIN;
50002	3	in xact 2
\.
SELECT count(*) FROM lx WHERE v = 'in xact 2';
DELETE FROM lx WHERE id = 50000;
SELECT id FROM lx WHERE v = 'in xact 2' ORDER BY id;
ROLLBACK;
SELECT count(*) AS after_rollback FROM lx WHERE id >= 50000;

-- ROLLBACK TO SAVEPOINT undoes the local writes after the savepoint only.
BEGIN;
INSERT INTO lx (id, k, v) VALUES (60000, 1, 'kept');
SAVEPOINT s1;
INSERT INTO lx (id, k, v) VALUES (60001, 1, 'undone');
UPDATE lx SET v = 'undone too' WHERE id = 60000;
DELETE FROM lx WHERE id = 1;
ROLLBACK TO SAVEPOINT s1;
SELECT id, v FROM lx WHERE id >= 60000 OR id = 1 ORDER BY id;
SAVEPOINT s2;
SELECT pg_temp.error_of($$INSERT INTO lx (id, k) VALUES (60000, 1)$$);
INSERT INTO lx (id, k, v) VALUES (60002, 1, 'after error');
COMMIT;
SELECT id, v FROM lx WHERE id >= 60000 ORDER BY id;
DELETE FROM lx WHERE id >= 60000;

-- Once a transaction wrote locally, everything it does on the coordinator's shards stays local,
-- even with rollup.enable_local_execution turned off meanwhile.
BEGIN;
INSERT INTO lx (id, k, v) VALUES (70000, 1, 'local');
SET LOCAL rollup.enable_local_execution = off;
INSERT INTO lx (id, k, v) VALUES (70001, 1, 'still local');
SELECT id, v FROM lx WHERE id >= 70000 ORDER BY id;
COMMIT;
-- And a transaction that wrote through a loopback connection keeps using it (the local backend
-- could not see those rows).
BEGIN;
SET LOCAL rollup.enable_local_execution = off;
INSERT INTO lx (id, k, v) VALUES (70002, 1, 'loopback');
SELECT pg_temp.my_shard_locks('lx') AS locks_here;
SET LOCAL rollup.enable_local_execution = on;
INSERT INTO lx (id, k, v) VALUES (70003, 1, 'loopback too');
SELECT pg_temp.my_shard_locks('lx') AS locks_here;
SELECT id, v FROM lx WHERE id >= 70000 ORDER BY id;
COMMIT;
SELECT id, v FROM lx WHERE id >= 70000 ORDER BY id;
DELETE FROM lx WHERE id >= 70000;

-- INSERT ... SELECT between co-located tables (pushed down per shard pair) and DDL after a local
-- write in the same transaction.
CREATE TABLE lx_copy (id int, k int, v text);
SELECT create_distributed_table('lx_copy', 'id', colocate_with => 'lx');
BEGIN;
INSERT INTO lx (id, k, v) VALUES (80000, 1, 'pushed');
INSERT INTO lx_copy SELECT id, k, v FROM lx WHERE k > 3;
SELECT count(*) = (SELECT count(*) FROM lx WHERE k > 3) AS same_count FROM lx_copy;
ALTER TABLE lx_copy ADD COLUMN extra int DEFAULT 5;
INSERT INTO lx_copy (id, k, v, extra) VALUES (80000, 1, 'after ddl', 6);
SELECT id, v, extra FROM lx_copy WHERE id = 80000;
TRUNCATE lx_copy;
SELECT count(*) FROM lx_copy;
COMMIT;
DELETE FROM lx WHERE id = 80000;
SELECT * FROM pg_temp.diff();

-- A transaction that writes locally and to a worker commits atomically: two-phase commit on the
-- worker (even a single one), decided by the coordinator's own commit.
SELECT rollup.add_node('127.0.0.1', current_setting('regress.worker_' || i || '_port')::int) > 0 AS added
  FROM generate_series(1, 2) AS i;
CREATE TABLE lx_remote (id int PRIMARY KEY, v text);
SELECT create_distributed_table('lx_remote', 'id', 4, colocate_with => 'none');
SELECT n.is_coordinator, count(*) AS shards FROM rollup.shards s JOIN rollup.nodes n USING (nodeid)
 WHERE s.table_name = 'lx_remote'::regclass GROUP BY 1;
CREATE TEMP TABLE records_before AS SELECT count(*) AS n FROM rollup.prepared_xact;
BEGIN;
INSERT INTO lx (id, k, v) VALUES (90000, 1, 'with remote');
INSERT INTO lx_remote VALUES (1, 'with local');
COMMIT;
SELECT (SELECT count(*) FROM rollup.prepared_xact) - n AS two_phase_commits FROM records_before;
SELECT (SELECT v FROM lx WHERE id = 90000) AS local_row, (SELECT v FROM lx_remote WHERE id = 1) AS remote_row;
-- A failure on the worker rolls back the local rows too.
BEGIN;
INSERT INTO lx (id, k, v) VALUES (90002, 1, 'lost');
\set VERBOSITY terse
INSERT INTO lx_remote VALUES (1, 'duplicate');
\set VERBOSITY default
COMMIT;
SELECT count(*) AS lost_rows FROM lx WHERE id = 90002;
SELECT rollup.recover_prepared_transactions() >= 0 AS recovered;
DELETE FROM lx WHERE id >= 90000;
SELECT * FROM pg_temp.diff();

-- Back to the two-worker setup: the coordinator, holding nothing once these are dropped, leaves.
DROP TABLE lx, lx_twin, lx_copy, lx_remote;
SELECT rollup.remove_node('localhost', current_setting('port')::int);
SELECT count(*) AS nodes FROM rollup.nodes;
RESET rollup.next_shard_id;
