-- INSERT into a distributed table: rows routed by the hash of the distribution column, defaults
-- and volatile functions evaluated once per row on the coordinator, RETURNING, ON CONFLICT.
-- Every check compares what the shards hold (read through dblink on the nodes) with a local twin
-- table that received the same statements.
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SET rollup.next_shard_id TO 301000;
\i sql/helpers/shard_check.sql

CREATE TABLE events (site_id int, seq int, label text, created timestamptz DEFAULT now(), dropme int,
                     payload jsonb, PRIMARY KEY (site_id, seq));
ALTER TABLE events DROP COLUMN dropme;
SELECT create_distributed_table('events', 'site_id', 8);
CREATE TABLE events_twin (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE events_twin ADD PRIMARY KEY (site_id, seq);

-- single row, multi-row, column list, defaults
INSERT INTO events VALUES (1, 1, 'one', '2024-01-01 00:00+00', '{"a": 1}');
INSERT INTO events_twin VALUES (1, 1, 'one', '2024-01-01 00:00+00', '{"a": 1}');
INSERT INTO events (site_id, seq, label) VALUES (2, 1, 'two'), (3, 1, 'three'), (4, 1, NULL);
INSERT INTO events_twin (site_id, seq, label) VALUES (2, 1, 'two'), (3, 1, 'three'), (4, 1, NULL);
-- values with quotes, backslashes, tabs and newlines survive the trip
INSERT INTO events (site_id, seq, label) VALUES (5, 1, E'it''s a \\ back\tslash\nnewline');
INSERT INTO events_twin (site_id, seq, label) VALUES (5, 1, E'it''s a \\ back\tslash\nnewline');
SELECT * FROM pg_temp.diff('events', 'events_twin', 'site_id, seq, label, payload', 'site_id');

-- DEFAULT now() is the coordinator's transaction time: every row of one statement gets the same
-- value, and it is the coordinator's (the shards' clocks are not used).
BEGIN;
INSERT INTO events (site_id, seq) SELECT g, 2 FROM generate_series(1, 20) g;
CREATE TEMP TABLE insert_time AS SELECT now() AS t;
COMMIT;
SELECT count(*) AS rows_with_that_time
  FROM pg_temp.shard_rows('events', 'created', 'site_id')
 WHERE rowtext::timestamptz = (SELECT t FROM insert_time);
DROP TABLE insert_time;
DELETE FROM events WHERE seq = 2;

-- volatile expressions are evaluated once per row, on the coordinator: the row stored is the row
-- RETURNING shows
CREATE SEQUENCE events_seq;
INSERT INTO events (site_id, seq, label) VALUES (6, nextval('events_seq'), md5(random()::text))
  RETURNING site_id, seq, length(label) AS label_length;
SELECT rowtext FROM pg_temp.shard_rows('events', 'site_id, seq, length(label)', 'site_id') WHERE rowtext LIKE '(6,%';
DELETE FROM events WHERE site_id = 6;

-- RETURNING * with a dropped column in the table
INSERT INTO events VALUES (7, 1, 'seven', '2024-01-07 00:00+00', '[1,2]') RETURNING *;
INSERT INTO events_twin VALUES (7, 1, 'seven', '2024-01-07 00:00+00', '[1,2]');

-- a NULL distribution value is refused and nothing of the statement is stored
INSERT INTO events (site_id, seq) VALUES (8, 1), (NULL, 2);
SELECT count(*) FROM pg_temp.shard_rows('events', 'site_id', 'site_id') WHERE rowtext = '8';
-- a constraint violation on a shard fails the whole statement (terse: the context names a port)
\set VERBOSITY terse
INSERT INTO events (site_id, seq) VALUES (9, 1), (1, 1);
\set VERBOSITY default
SELECT count(*) FROM pg_temp.shard_rows('events', 'site_id', 'site_id') WHERE rowtext = '9';

-- ON CONFLICT, with the arbiter index and with a named constraint; RETURNING comes from the shards
INSERT INTO events (site_id, seq, label) VALUES (1, 1, 'one again')
  ON CONFLICT (site_id, seq) DO UPDATE SET label = events.label || '+' || excluded.label
  RETURNING site_id, seq, label;
INSERT INTO events (site_id, seq, label) VALUES (10, 1, 'ten'), (1, 1, 'ignored')
  ON CONFLICT (site_id, seq) DO NOTHING;
INSERT INTO events_twin (site_id, seq, label) VALUES (1, 1, 'one again')
  ON CONFLICT (site_id, seq) DO UPDATE SET label = events_twin.label || '+' || excluded.label;
INSERT INTO events_twin (site_id, seq, label) VALUES (10, 1, 'ten'), (1, 1, 'ignored')
  ON CONFLICT (site_id, seq) DO NOTHING;
INSERT INTO events (site_id, seq, label) VALUES (2, 1, 'ignored')
  ON CONFLICT ON CONSTRAINT events_pkey DO NOTHING RETURNING site_id, label;
INSERT INTO events (site_id, seq, label) VALUES (11, 1, 'eleven')
  ON CONFLICT ON CONSTRAINT events_pkey DO NOTHING RETURNING site_id, label;
INSERT INTO events_twin (site_id, seq, label) VALUES (2, 1, 'ignored'), (11, 1, 'eleven')
  ON CONFLICT DO NOTHING;
INSERT INTO events (site_id, seq) VALUES (3, 1) ON CONFLICT (site_id, seq) DO UPDATE SET site_id = 4;
SELECT * FROM pg_temp.diff('events', 'events_twin', 'site_id, seq, label, payload', 'site_id');

-- prepared statements and PL/pgSQL reuse their plan; every execution routes its own values
PREPARE ins(int, int, text) AS INSERT INTO events (site_id, seq, label) VALUES ($1, $2, $3);
EXECUTE ins(20, 1, 'p1'); EXECUTE ins(21, 1, 'p2'); EXECUTE ins(22, 1, 'p3');
EXECUTE ins(23, 1, 'p4'); EXECUTE ins(24, 1, 'p5'); EXECUTE ins(25, 1, 'p6'); EXECUTE ins(26, 1, 'p7');
INSERT INTO events_twin (site_id, seq, label) VALUES (20, 1, 'p1'), (21, 1, 'p2'), (22, 1, 'p3'),
  (23, 1, 'p4'), (24, 1, 'p5'), (25, 1, 'p6'), (26, 1, 'p7');
DEALLOCATE ins;
DO $$
BEGIN
  FOR i IN 100..299 LOOP
    INSERT INTO events (site_id, seq, label) VALUES (i % 37, i, 'loop ' || i);
  END LOOP;
END $$;
INSERT INTO events_twin (site_id, seq, label) SELECT i % 37, i, 'loop ' || i FROM generate_series(100, 299) i;
-- a loop that commits every row (the tutorial's generator does this)
CREATE PROCEDURE pg_temp.gen() LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 300..319 LOOP
    INSERT INTO events (site_id, seq, label) VALUES (i % 7, i, 'committed ' || i);
    COMMIT;
  END LOOP;
END $$;
CALL pg_temp.gen();
INSERT INTO events_twin (site_id, seq, label) SELECT i % 7, i, 'committed ' || i FROM generate_series(300, 319) i;
SELECT * FROM pg_temp.diff('events', 'events_twin', 'site_id, seq, label, payload', 'site_id');

-- large INSERT ... SELECT from a local table streams with COPY
INSERT INTO events (site_id, seq, label) SELECT g % 101, 1000 + g, 'bulk' FROM generate_series(1, 5000) g;
INSERT INTO events_twin (site_id, seq, label) SELECT g % 101, 1000 + g, 'bulk' FROM generate_series(1, 5000) g;
SELECT * FROM pg_temp.diff('events', 'events_twin', 'site_id, seq, label, payload', 'site_id');

-- the shell table on the coordinator never stored a row (it has no page at all)
SELECT pg_relation_size('events') AS shell_bytes;
EXPLAIN (COSTS OFF) INSERT INTO events (site_id, seq) VALUES (1, 2);

-- what is refused, with its reason
INSERT INTO events (site_id, seq) VALUES ((SELECT max(site_id) FROM events), 99);
WITH w AS (INSERT INTO events (site_id, seq) VALUES (1, 99) RETURNING *) SELECT * FROM w;
WITH w AS (DELETE FROM events RETURNING *) INSERT INTO events_twin SELECT * FROM w;
SELECT pg_relation_size('events') AS shell_bytes;
MERGE INTO events e USING events_twin t ON e.site_id = t.site_id WHEN MATCHED THEN DO NOTHING;
-- a conflict action that reads another table runs on the shards, where that table does not exist
-- (a coordinator table failed there with 42P01, found by the differential SQLsmith test): refused;
-- the value goes through the INSERT's own rows instead
CREATE TABLE labels_local (label text);
INSERT INTO labels_local VALUES ('from a local table');
INSERT INTO events (site_id, seq, label) VALUES (1, 1, 'x')
  ON CONFLICT (site_id, seq) DO UPDATE SET label = (SELECT label FROM labels_local);
INSERT INTO events (site_id, seq, label) VALUES (1, 1, 'x')
  ON CONFLICT (site_id, seq) DO UPDATE SET label = 'y' WHERE EXISTS (SELECT FROM labels_local);
INSERT INTO events (site_id, seq, label) SELECT 1, 1, label FROM labels_local
  ON CONFLICT (site_id, seq) DO UPDATE SET label = excluded.label RETURNING site_id, seq, label;
DROP TABLE labels_local;

DROP TABLE events, events_twin;
DROP SEQUENCE events_seq;
RESET rollup.next_shard_id;
