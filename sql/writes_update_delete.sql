-- UPDATE and DELETE on a distributed table: pushed down to the one shard the WHERE pins, or to
-- every shard in parallel; counts and RETURNING come from the shards. Checked against a local twin.
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SET rollup.next_shard_id TO 302000;
\i sql/helpers/shard_check.sql

CREATE TABLE accounts (id bigint, owner text, balance numeric, touched timestamptz);
SELECT create_distributed_table('accounts', 'id', 6);
CREATE TABLE accounts_twin (LIKE accounts);
INSERT INTO accounts SELECT g, 'owner ' || (g % 10), g * 10, NULL FROM generate_series(1, 300) g;
INSERT INTO accounts_twin SELECT g, 'owner ' || (g % 10), g * 10, NULL FROM generate_series(1, 300) g;

-- router: the WHERE pins one shard (constant, or parameter of a prepared statement)
UPDATE accounts SET balance = balance + 1 WHERE id = 7 RETURNING id, balance;
UPDATE accounts_twin SET balance = balance + 1 WHERE id = 7;
PREPARE upd(bigint, numeric) AS UPDATE accounts SET balance = balance - $2 WHERE id = $1 AND balance > $2;
EXECUTE upd(8, 5); EXECUTE upd(9, 5); EXECUTE upd(10, 5); EXECUTE upd(11, 5); EXECUTE upd(12, 5);
EXECUTE upd(13, 5); EXECUTE upd(14, 5000);
UPDATE accounts_twin SET balance = balance - 5 WHERE id BETWEEN 8 AND 13;
DEALLOCATE upd;
DELETE FROM accounts WHERE id = 300 RETURNING *;
DELETE FROM accounts_twin WHERE id = 300;
SELECT * FROM pg_temp.diff('accounts', 'accounts_twin', 'id, owner, balance', 'id');

-- every shard at once: counts add up over shards
UPDATE accounts SET owner = upper(owner) WHERE balance > 1000;
UPDATE accounts_twin SET owner = upper(owner) WHERE balance > 1000;
DELETE FROM accounts WHERE id % 7 = 0;
DELETE FROM accounts_twin WHERE id % 7 = 0;
UPDATE accounts SET balance = 0 WHERE id IN (1, 2, 3);
UPDATE accounts_twin SET balance = 0 WHERE id IN (1, 2, 3);
SELECT * FROM pg_temp.diff('accounts', 'accounts_twin', 'id, owner, balance', 'id');

-- stable functions and parameters are evaluated once on the coordinator: every shard writes the
-- same now()
UPDATE accounts SET touched = now() WHERE id < 100;
SELECT count(DISTINCT rowtext) AS distinct_values FROM pg_temp.shard_rows('accounts', 'touched', 'id')
 WHERE rowtext IS NOT NULL;
DO $$
DECLARE cutoff numeric := 2500;
BEGIN
  DELETE FROM accounts WHERE balance > cutoff;
  DELETE FROM accounts_twin WHERE balance > cutoff;
END $$;
SELECT * FROM pg_temp.diff('accounts', 'accounts_twin', 'id, owner, balance', 'id');

-- errors: the distribution column cannot change; other tables cannot be read per shard
UPDATE accounts SET id = id + 1 WHERE id = 5;
UPDATE accounts SET balance = 1 WHERE id IN (SELECT id FROM accounts_twin);
DELETE FROM accounts USING accounts_twin WHERE accounts.id = accounts_twin.id;
CREATE FUNCTION pg_temp.double(numeric) RETURNS numeric LANGUAGE sql AS 'SELECT $1 * 2';
UPDATE accounts SET balance = pg_temp.double(balance) WHERE id = 5;
UPDATE accounts_twin SET balance = 1 WHERE id IN (SELECT id FROM accounts);
-- a failing statement changes nothing anywhere
\set VERBOSITY terse
UPDATE accounts SET balance = 1 / (id - 50) WHERE id < 60;
\set VERBOSITY default
SELECT * FROM pg_temp.diff('accounts', 'accounts_twin', 'id, owner, balance', 'id');
EXPLAIN (COSTS OFF) DELETE FROM accounts WHERE id = 5;

DROP TABLE accounts, accounts_twin;
RESET rollup.next_shard_id;
