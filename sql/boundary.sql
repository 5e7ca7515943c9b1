--
-- The C++ / PostgreSQL boundary (STYLE.md): every error that crosses it, whatever its origin, comes
-- out as a proper PostgreSQL error with its SQLSTATE; the session stays usable; and C++ objects that
-- were alive when the error happened are destroyed (nothing leaks).
--
-- rollup.test_error(kind) first opens one scratch connection to every node, held by a C++ object on
-- its stack, then fails in the given way. rollup.open_connection_count() counts the node connections
-- this backend holds: if the scratch object were not destroyed on the error path, its connections
-- would stay open and the count would grow.
--
-- Each error's SQLSTATE is printed with \echo :LAST_ERROR_SQLSTATE (psql sets it after an error).

-- The pool keeps one connection per node for later statements: warm it up first, so that the
-- baseline counts those and nothing else. (A remote error leaves the pooled connections usable.)
-- Remote errors name the node (host:port) in their CONTEXT: hidden, ports change from run to run.
\set SHOW_CONTEXT never
SELECT rollup.test_error('remote');
\set SHOW_CONTEXT errors
SELECT rollup.open_connection_count() AS baseline \gset
SELECT :baseline > 0 AS pool_warmed_up;

-- 1. A PostgreSQL error (ereport) raised below C++ frames: int4div(1, 0), called from C++ through
--    rollup::pg::call, keeps its own SQLSTATE (22012 division_by_zero) and message.
SELECT rollup.test_error('pg');
\echo :LAST_ERROR_SQLSTATE
SELECT rollup.open_connection_count() = :baseline AS no_connection_left;
SELECT 1 AS session_still_usable;

-- 2. Our own C++ exception, PgError, carries SQLSTATE, message, detail and hint.
SELECT rollup.test_error('cpp');
\echo :LAST_ERROR_SQLSTATE
SELECT rollup.open_connection_count() = :baseline AS no_connection_left;
SELECT 1 AS session_still_usable;

-- 3. Any std::exception becomes an internal error (XX000) with what() as its message.
SELECT rollup.test_error('std');
\echo :LAST_ERROR_SQLSTATE
SELECT rollup.open_connection_count() = :baseline AS no_connection_left;
SELECT 1 AS session_still_usable;

-- 4. Anything else thrown (here an int) is caught too: XX000, never a crashed backend.
SELECT rollup.test_error('unknown');
\echo :LAST_ERROR_SQLSTATE
SELECT rollup.open_connection_count() = :baseline AS no_connection_left;
SELECT 1 AS session_still_usable;

-- 5. An error on a worker (SELECT 1/0 sent to every node) is re-raised on the coordinator with the
--    remote SQLSTATE and message (CONTEXT, hidden here, says on which node).
\set SHOW_CONTEXT never
SELECT rollup.test_error('remote');
\echo :LAST_ERROR_SQLSTATE
\set SHOW_CONTEXT errors
SELECT rollup.open_connection_count() = :baseline AS no_connection_left;
SELECT 1 AS session_still_usable;

-- 6. A bad argument is an ordinary invalid_parameter_value error; NULL gives NULL (STRICT).
SELECT rollup.test_error('no such kind');
\echo :LAST_ERROR_SQLSTATE
SELECT rollup.test_error(NULL) IS NULL AS strict;
SELECT rollup.open_connection_count() = :baseline AS no_connection_left;

-- 7. Inside a transaction block: the error aborts the transaction as usual, ROLLBACK recovers, and
--    the same holds inside a savepoint: the subtransaction is rolled back, the outer one goes on and
--    commits, even when the error came from a worker (its remote transaction is rolled back to
--    the matching remote savepoint).
BEGIN;
SELECT rollup.test_error('cpp');
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT rollup.test_error('pg');
ROLLBACK TO SAVEPOINT s;
SELECT 1 AS outer_transaction_goes_on;
COMMIT;
\set SHOW_CONTEXT never
BEGIN;
SAVEPOINT s;
SELECT rollup.test_error('remote');
ROLLBACK TO SAVEPOINT s;
SELECT 1 AS outer_transaction_goes_on;
COMMIT;
\set SHOW_CONTEXT errors
SELECT rollup.open_connection_count() = :baseline AS no_connection_left;

-- 8. Many errors in a row: still nothing accumulates.
DO $$
DECLARE
    kind text;
    state text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['pg', 'cpp', 'std', 'unknown'] LOOP
        FOR i IN 1..20 LOOP
            BEGIN
                PERFORM rollup.test_error(kind);
                RAISE EXCEPTION 'test_error(%) did not fail', kind USING ERRCODE = 'P0004';
            EXCEPTION WHEN OTHERS THEN
                IF SQLSTATE = 'P0004' THEN RAISE; END IF;
                state := SQLSTATE;
            END;
        END LOOP;
        RAISE NOTICE '20 x test_error(%): SQLSTATE %', kind, state;
    END LOOP;
END $$;
SELECT rollup.open_connection_count() = :baseline AS no_connection_left;

-- 9. test_error is test support, not for everyone: PUBLIC cannot execute it.
CREATE ROLE boundary_user;
SET ROLE boundary_user;
SELECT rollup.test_error('pg');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE boundary_user;
