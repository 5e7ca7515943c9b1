-- Shared by the differential tests (included with \i): compare(q) runs query q with the
-- distributed tables first on the search path (schema `dist`), then with local copies holding the
-- same rows (schema `loc`), and reports the rows that differ in either direction (EXCEPT ALL both
-- ways, on the rows' text form, so types and scales must match too) and the row count. An expected
-- "0 differences" cannot record a wrong answer.
CREATE FUNCTION public.compare(q text, dist text DEFAULT 'dist', loc text DEFAULT 'loc') RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    n_dist bigint;
    n_loc bigint;
    missing bigint;
    extra bigint;
BEGIN
    PERFORM set_config('search_path', format('%I, public', dist), true);
    EXECUTE format('CREATE TEMP TABLE r_dist AS SELECT x::text AS r FROM (%s) x', q);
    PERFORM set_config('search_path', format('%I, public', loc), true);
    EXECUTE format('CREATE TEMP TABLE r_loc AS SELECT x::text AS r FROM (%s) x', q);
    PERFORM set_config('search_path', 'public', true);
    SELECT count(*) INTO n_dist FROM r_dist;
    SELECT count(*) INTO n_loc FROM r_loc;
    SELECT count(*) INTO missing FROM (SELECT r FROM r_loc EXCEPT ALL SELECT r FROM r_dist) m;
    SELECT count(*) INTO extra FROM (SELECT r FROM r_dist EXCEPT ALL SELECT r FROM r_loc) e;
    DROP TABLE r_dist, r_loc;
    IF n_dist <> n_loc THEN
        RETURN format('%s differences, %s rows (local: %s rows)', missing + extra, n_dist, n_loc);
    END IF;
    RETURN format('%s differences, %s rows', missing + extra, n_dist);
END
$fn$;
