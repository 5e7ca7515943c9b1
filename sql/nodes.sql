--
-- Worker membership: rollup.add_node, rollup.remove_node and the rollup.nodes view.
-- (test/cluster_setup.sql already added both workers, worker_1 and worker_2.)
--
-- Ports change from run to run: nodes are shown by name, and messages that contain a port are
-- shown through pg_temp.error_of, which runs a command and returns its SQLSTATE and message with
-- the ports replaced by node names.
CREATE FUNCTION pg_temp.node_name(port int) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE port
        WHEN current_setting('regress.worker_1_port')::int THEN 'worker_1'
        WHEN current_setting('regress.worker_2_port')::int THEN 'worker_2'
        WHEN current_setting('port')::int THEN 'coordinator'
        ELSE port::text END
$$;
CREATE FUNCTION pg_temp.error_of(command text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; message text; detail text; hint text;
BEGIN
    EXECUTE command;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    message := concat_ws(E'\n', message, 'DETAIL: ' || nullif(detail, ''), 'HINT: ' || nullif(hint, ''));
    message := replace(message, ':' || current_setting('regress.worker_1_port'), ':<worker_1>');
    message := replace(message, ':' || current_setting('regress.worker_2_port'), ':<worker_2>');
    RETURN state || ': ' || message;
END $$;

-- The view: one row per node, with how many shard placements it holds.
SELECT pg_temp.node_name(port) AS node, host, is_coordinator, shard_count
  FROM rollup.nodes ORDER BY node;

-- add_node is idempotent: adding a node that is already a member returns its id and changes nothing.
SELECT rollup.add_node('127.0.0.1', current_setting('regress.worker_1_port')::int)
       = (SELECT nodeid FROM rollup.nodes WHERE port = current_setting('regress.worker_1_port')::int)
       AS same_id;
SELECT count(*) AS node_count FROM rollup.nodes;

-- Bad arguments.
SELECT rollup.add_node('', 5432);
\echo :LAST_ERROR_SQLSTATE
SELECT rollup.add_node('127.0.0.1', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT rollup.add_node('127.0.0.1', 65536);
\echo :LAST_ERROR_SQLSTATE
-- STRICT: NULL arguments give NULL and add nothing.
SELECT rollup.add_node(NULL, 5432) IS NULL AS null_host, rollup.add_node('127.0.0.1', NULL) IS NULL AS null_port;

-- A node that does not answer is not added; the error names it (host:port) and keeps libpq's reason.
SELECT rollup.add_node('127.0.0.1', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS node_count FROM rollup.nodes;

-- remove_node of a node that is not a member.
SELECT rollup.remove_node('127.0.0.1', 1);
\echo :LAST_ERROR_SQLSTATE

-- remove_node is refused while the node holds shard placements (55006 object_in_use), and says
-- which tables have shards there.
CREATE TABLE nodes_dist (id int, v text);
SELECT create_distributed_table('nodes_dist', 'id', 4);
SELECT pg_temp.node_name(port) AS node, shard_count FROM rollup.nodes ORDER BY node;
SELECT pg_temp.error_of(format('SELECT rollup.remove_node(%L, %s)', '127.0.0.1',
                               current_setting('regress.worker_2_port')));
SELECT count(*) AS node_count FROM rollup.nodes;
DROP TABLE nodes_dist;

-- Once it holds nothing, a node can be removed, and added again (with a new id).
SELECT nodeid AS old_worker_2_id FROM rollup.nodes WHERE pg_temp.node_name(port) = 'worker_2' \gset
SELECT rollup.remove_node('127.0.0.1', current_setting('regress.worker_2_port')::int);
SELECT pg_temp.node_name(port) AS node, shard_count FROM rollup.nodes ORDER BY node;
SELECT rollup.add_node('127.0.0.1', current_setting('regress.worker_2_port')::int) > :old_worker_2_id
       AS new_id;
SELECT pg_temp.node_name(port) AS node, host, is_coordinator, shard_count
  FROM rollup.nodes ORDER BY node;

-- Membership changes are transactional.
BEGIN;
SELECT rollup.remove_node('127.0.0.1', current_setting('regress.worker_2_port')::int);
SELECT count(*) AS node_count_inside FROM rollup.nodes;
ROLLBACK;
SELECT count(*) AS node_count_after_rollback FROM rollup.nodes;

-- Only superusers change membership (42501); everyone can read the view.
CREATE ROLE nodes_user;
SET ROLE nodes_user;
SELECT rollup.add_node('127.0.0.1', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT rollup.remove_node('127.0.0.1', current_setting('regress.worker_1_port')::int);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS node_count FROM rollup.nodes;
RESET ROLE;
DROP ROLE nodes_user;
SELECT count(*) AS node_count FROM rollup.nodes;
