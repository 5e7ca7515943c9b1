-- A node may commit a write only when the coordinator's transaction commits (issue 10, defect 8):
-- writes that looked like "the whole transaction" committed on their node by themselves while the
-- coordinator's statement could still fail after them.
SET rollup.next_shard_id = 490000;
CREATE TABLE wa_dist (id int, v text);
SELECT create_distributed_table('wa_dist', 'id', 4);

-- RETURNING is projected on the coordinator after the rows were stored: its error must undo them.
INSERT INTO wa_dist VALUES (5, 'a') RETURNING 1 / (id - 5);
INSERT INTO wa_dist SELECT g, 'b' FROM generate_series(1, 3) g RETURNING 1 / (id - 3);
UPDATE wa_dist SET v = 'c' WHERE id = 5 RETURNING 1 / 0;
SELECT count(*) FROM wa_dist;

-- AFTER triggers of a local table fire in ExecutorFinish: the distributed INSERTs they make are not
-- the whole transaction; a later failure of the statement must undo them.
CREATE TABLE wa_local (id int);
CREATE FUNCTION wa_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO wa_dist VALUES (NEW.id, 'from trigger');
    IF NEW.id = 4 THEN
        RAISE EXCEPTION 'trigger fails at row %', NEW.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER wa_after AFTER INSERT ON wa_local FOR EACH ROW EXECUTE FUNCTION wa_copy();
INSERT INTO wa_local VALUES (1), (2), (3), (4);
SELECT count(*) FROM wa_local;
SELECT count(*) FROM wa_dist;
-- Without the failure, all of them are there.
INSERT INTO wa_local VALUES (1), (2), (3);
SELECT id, v FROM wa_dist ORDER BY id;

-- A function with an EXCEPTION block aborts a subtransaction per row, which makes the metadata cache
-- reload while the statement still routes rows with what it looked up before (that crashed the
-- coordinator, issue 10, defect 10).
CREATE FUNCTION wa_h(i int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM 1 / (i % 2);
    EXCEPTION WHEN division_by_zero THEN
        RETURN 'even';
    END;
    RETURN 'odd';
END $$;
INSERT INTO wa_dist SELECT g, wa_h(g) FROM generate_series(100, 2099) g;
SELECT v, count(*) FROM wa_dist WHERE id >= 100 GROUP BY v ORDER BY v;
INSERT INTO wa_dist SELECT g, wa_h(g) FROM generate_series(3000, 3009) g ON CONFLICT DO NOTHING;
SELECT v, count(*) FROM wa_dist WHERE id >= 3000 GROUP BY v ORDER BY v;

-- A change of the coordinator's own state and of one node commits with two-phase commit: a failure
-- at the coordinator's commit (injected right after the node prepared) leaves both sides as they
-- were. (With one-phase commit the node committed first: an undistribute_table that died at
-- pre-commit left the table marked distributed with its shards dropped.)
CREATE TABLE wa_one (id int, v text);
SELECT create_distributed_table('wa_one', 'id', 1);
INSERT INTO wa_one SELECT g, 'v' || g FROM generate_series(1, 50) g;
SET rollup.testing_fail_after_prepare = on;
SELECT undistribute_table('wa_one');
RESET rollup.testing_fail_after_prepare;
SELECT rollup.is_distributed('wa_one'), count(*) FROM wa_one;
SELECT undistribute_table('wa_one');
SELECT rollup.is_distributed('wa_one'), count(*) FROM wa_one;
DROP TABLE wa_one;

DROP TABLE wa_local, wa_dist;
DROP FUNCTION wa_copy();
DROP FUNCTION wa_h(int);
