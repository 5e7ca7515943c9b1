-- COPY FROM into a distributed table: rows routed by hash, defaults evaluated on the coordinator,
-- text and csv, a malformed line fails everything with its line number; COPY TO reads the shards.
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SET rollup.next_shard_id TO 303000;
\i sql/helpers/shard_check.sql


CREATE TABLE hits (site_id int NOT NULL, url text, status int, at timestamptz DEFAULT '2024-05-05 05:05+00');
SELECT create_distributed_table('hits', 'site_id', 8);
CREATE TABLE hits_twin (LIKE hits INCLUDING DEFAULTS);

COPY hits (site_id, url, status) FROM STDIN;
1	http://a/1	200
2	http://b/\\weird\ttab	404
3	\N	500
\.
COPY hits_twin (site_id, url, status) FROM STDIN;
1	http://a/1	200
2	http://b/\\weird\ttab	404
3	\N	500
\.
COPY hits FROM STDIN WITH (FORMAT csv, HEADER true);
site_id,url,status,at
4,"http://c/,comma",200,2024-01-01 10:00:00+00
5,"quote""d",301,
\.
COPY hits_twin FROM STDIN WITH (FORMAT csv, HEADER true);
site_id,url,status,at
4,"http://c/,comma",200,2024-01-01 10:00:00+00
5,"quote""d",301,
\.
SELECT * FROM pg_temp.diff('hits', 'hits_twin', 'site_id, url, status, at', 'site_id');

-- a large COPY streams to all shards (binary COPY, pipelined); from a file on the server too
COPY (SELECT g % 1000, 'http://x/' || g, 200 + g % 3, '2024-02-02'::timestamptz + g * interval '1 s'
        FROM generate_series(1, 30000) g) TO '/tmp/rollup_copy_from_test.data';
COPY hits FROM '/tmp/rollup_copy_from_test.data';
COPY hits_twin FROM '/tmp/rollup_copy_from_test.data';
SELECT * FROM pg_temp.diff('hits', 'hits_twin', 'site_id, url, status, at', 'site_id');
SELECT count(*) FROM pg_temp.shard_rows('hits', 'site_id', 'site_id');

-- a malformed line fails the whole COPY, with its line number; nothing of it is stored
COPY hits (site_id, url, status) FROM STDIN;
900001	ok	200
900002	ok	not-a-number
\.
COPY hits (site_id, url) FROM STDIN;
900003	ok
\N	null distribution value
\.
-- an error found late (after rows were already streamed to the shards) also leaves nothing
COPY (SELECT CASE WHEN g = 25000 THEN 'oops' ELSE (g + 2000000)::text END, 'late', 200
        FROM generate_series(1, 25000) g) TO '/tmp/rollup_copy_from_test.data';
COPY hits (site_id, url, status) FROM '/tmp/rollup_copy_from_test.data';
SELECT count(*) FROM pg_temp.shard_rows('hits', 'site_id', 'site_id') WHERE rowtext::int > 900000;

-- inside a transaction, with a rollback
BEGIN;
COPY hits (site_id, url, status) FROM STDIN;
7000	rolled back	200
\.
ROLLBACK;
SELECT * FROM pg_temp.diff('hits', 'hits_twin', 'site_id, url, status, at', 'site_id');

SELECT pg_relation_size('hits') AS shell_bytes;

COPY hits FROM STDIN WHERE site_id > 5;
DROP TABLE hits, hits_twin;
RESET rollup.next_shard_id;
