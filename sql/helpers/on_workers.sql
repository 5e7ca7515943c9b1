-- Shared by the tests that need objects on the workers themselves (included with \i): rollup does
-- not create roles or schemas there, so pg_temp.on_workers(sql) runs sql on both workers (dblink).
SET client_min_messages TO warning;  -- dblink may exist already (other tests)
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
CREATE FUNCTION pg_temp.on_workers(sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR n IN 1..2 LOOP
        PERFORM dblink_exec(format('host=127.0.0.1 port=%s dbname=%s user=postgres',
                                   current_setting('regress.worker_' || n || '_port'), current_database()), sql);
    END LOOP;
END $$;
