-- Transactions over distributed writes: BEGIN ... COMMIT/ROLLBACK behave as on one server, a
-- transaction that wrote to several nodes commits with two-phase commit (and leaves no prepared
-- transaction behind), savepoints roll back remote work too.
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SET rollup.next_shard_id TO 306000;
\i sql/helpers/shard_check.sql

CREATE FUNCTION pg_temp.prepared_on_nodes() RETURNS bigint LANGUAGE sql AS $$
  SELECT coalesce(sum(n), 0)::bigint FROM rollup.nodes nd,
    LATERAL dblink(format('host=%s port=%s dbname=postgres', nd.host, nd.port),
                   'SELECT count(*) FROM pg_prepared_xacts') AS r(n bigint)
$$;

CREATE TABLE ledger (account int, amount int);
SELECT create_distributed_table('ledger', 'account', 4);
CREATE TABLE ledger_twin (LIKE ledger);
SELECT count(DISTINCT nodeid) AS nodes FROM rollup.shards WHERE table_name = 'ledger'::regclass;

-- several nodes in one transaction: all or nothing
BEGIN;
INSERT INTO ledger VALUES (1, 100), (2, 200), (3, 300), (4, 400);
UPDATE ledger SET amount = amount + 1 WHERE account = 1;
DELETE FROM ledger WHERE account = 4;
COMMIT;
INSERT INTO ledger_twin VALUES (1, 101), (2, 200), (3, 300);
SELECT * FROM pg_temp.diff('ledger', 'ledger_twin', 'account, amount', 'account');
SELECT rollup.recover_prepared_transactions() AS resolved;
SELECT pg_temp.prepared_on_nodes() AS prepared_left, count(*) AS records_left FROM rollup.prepared_xact;

BEGIN;
INSERT INTO ledger VALUES (5, 500), (6, 600);
COPY ledger FROM STDIN;
7	700
\.
ROLLBACK;
SELECT * FROM pg_temp.diff('ledger', 'ledger_twin', 'account, amount', 'account');

-- an error in the middle of a transaction aborts the remote parts too
BEGIN;
INSERT INTO ledger VALUES (8, 800);
INSERT INTO ledger VALUES (NULL, 0);
COMMIT;
SELECT * FROM pg_temp.diff('ledger', 'ledger_twin', 'account, amount', 'account');

-- savepoints: the rolled back part is gone on the nodes too
BEGIN;
INSERT INTO ledger VALUES (9, 900);
SAVEPOINT s1;
INSERT INTO ledger VALUES (10, 1000), (11, 1100);
ROLLBACK TO SAVEPOINT s1;
INSERT INTO ledger VALUES (12, 1200);
COMMIT;
INSERT INTO ledger_twin VALUES (9, 900), (12, 1200);
SELECT * FROM pg_temp.diff('ledger', 'ledger_twin', 'account, amount', 'account');

-- PL/pgSQL exception blocks
DO $$
BEGIN
  INSERT INTO ledger VALUES (13, 1300);
  BEGIN
    INSERT INTO ledger VALUES (14, 1400);
    PERFORM 1 / 0;
  EXCEPTION WHEN division_by_zero THEN
    NULL;
  END;
  INSERT INTO ledger VALUES (15, 1500);
END $$;
INSERT INTO ledger_twin VALUES (13, 1300), (15, 1500);
SELECT * FROM pg_temp.diff('ledger', 'ledger_twin', 'account, amount', 'account');
SELECT rollup.recover_prepared_transactions() AS resolved;
SELECT pg_temp.prepared_on_nodes() AS prepared_left, count(*) AS records_left FROM rollup.prepared_xact;

-- reads of the shards in the same transaction see its writes (same connection per node)
BEGIN;
INSERT INTO ledger VALUES (16, 1600);
SELECT sum(row_count) FROM rollup.shard_stats('ledger');
ROLLBACK;

-- recovery finds nothing to do after clean commits
SELECT rollup.recover_prepared_transactions();

DROP TABLE ledger, ledger_twin;
RESET rollup.next_shard_id;
