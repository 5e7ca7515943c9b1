-- Shared by the write tests (included with \i): what the shards of a distributed table hold, read
-- on the nodes through dblink, compared with a local twin table given the same statements.
-- Rows of every shard of `tbl` as text, and whether each row sits in the shard its hash names.
CREATE FUNCTION pg_temp.shard_rows(tbl regclass, cols text, dist text)
RETURNS TABLE (shardid bigint, rowtext text, right_shard boolean) LANGUAGE sql AS $$
  SELECT s.shardid, r.rowtext, rollup.shard_for_value(tbl, r.distval) = s.shardid
    FROM rollup.shards s,
         LATERAL dblink(format('host=%s port=%s dbname=%s options=''-c datestyle=%s -c timezone=%s''',
                               s.host, s.port, current_database(),
                               replace(current_setting('datestyle'), ' ', ''), current_setting('timezone')),
                        format('SELECT (%s)::text, (%s)::text FROM %s', cols, dist, s.shard_name))
           AS r(rowtext text, distval text)
   WHERE s.table_name = tbl
$$;
-- Differences between the shards of `tbl` and the local `twin` (no row: identical).
CREATE FUNCTION pg_temp.diff(tbl regclass, twin regclass, cols text, dist text)
RETURNS TABLE (side text, rowtext text) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format(
    '(SELECT ''only on shards'', rowtext FROM pg_temp.shard_rows(%L, %L, %L)
      EXCEPT ALL SELECT ''only on shards'', (%s)::text FROM %s)
     UNION ALL
     (SELECT ''only in twin'', (%s)::text FROM %s
      EXCEPT ALL SELECT ''only in twin'', rowtext FROM pg_temp.shard_rows(%L, %L, %L))
     UNION ALL
     SELECT ''wrong shard'', rowtext FROM pg_temp.shard_rows(%L, %L, %L) WHERE NOT right_shard',
    tbl, cols, dist, cols, twin, cols, twin, tbl, cols, dist, tbl, cols, dist);
END $$;
