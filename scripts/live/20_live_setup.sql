-- The live part of `make demo` (scripts/demo.sh): a native rollup scheduled in the server, a
-- real-time view for the dashboard, retention with short windows so that expiry visibly happens,
-- and the functions the terminal dashboard and the report read. Runs after the tutorial's steps.
--
-- The dashboard reads the real-time view: exact to the second, at the cost of the rollup table
-- plus the raw rows of the minute in progress.
SELECT rollup.create_realtime_view('rollup_http_request_native', 'http_request_live');
SELECT rollup.schedule('rollup-native', '5 seconds', 'SELECT rollup_http_request_native()');
-- Raw rows older than a few minutes go (never before the rollup has consumed them); the rolled-up
-- minutes stay, and the real-time view keeps showing them.
SELECT rollup.set_retention('http_request', 'ingest_time', :'keep_raw');
SELECT rollup.alter_job('expire public.http_request', schedule => '10 seconds');

CREATE SCHEMA demo;
-- One row per dashboard frame: what the report charts over the run.
CREATE TABLE demo.sample (
    at timestamptz PRIMARY KEY,
    ingest_rows_per_s numeric,     -- raw rows of the last 10 seconds / 10
    lag_s numeric,                 -- now() - the rollup's frontier
    dashboard_ms numeric,          -- the dashboard query on the real-time view
    raw_rows bigint,
    rollup_rows bigint
);

-- The tutorial's dashboard query, on the real-time view: per site, the last 5 minutes.
CREATE FUNCTION demo.dashboard() RETURNS TABLE (site_id int, requests bigint, errors bigint, avg_ms bigint)
LANGUAGE sql STABLE AS $$
  SELECT site_id, sum(request_count)::bigint, sum(error_count)::bigint,
         (sum(average_response_time_msec::bigint * request_count) / nullif(sum(request_count), 0))::bigint
    FROM http_request_live
   WHERE ingest_time > date_trunc('minute', now()) - '5 minutes'::interval
   GROUP BY site_id $$;

-- One frame of the terminal dashboard (plain text, fixed width), and its sample row.
CREATE FUNCTION demo.frame(run_started timestamptz, width int DEFAULT 100) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz; ms numeric; out text := ''; r record; rate numeric; lag numeric; raw bigint; rolled bigint;
    top bigint; bar int;
BEGIN
    t0 := clock_timestamp();
    CREATE TEMP TABLE IF NOT EXISTS frame_rows (site_id int, requests bigint, errors bigint, avg_ms bigint);
    TRUNCATE frame_rows;
    INSERT INTO frame_rows SELECT * FROM demo.dashboard();
    ms := round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
    SELECT count(*) / 10.0 INTO rate FROM http_request WHERE ingest_time > now() - interval '10 seconds';
    SELECT round(extract(epoch FROM r2.lag)::numeric, 1) INTO lag FROM rollup.rollups r2 WHERE name = 'rollup_http_request_native';
    CREATE TEMP TABLE IF NOT EXISTS frame_stats (tbl text, nodeid int, shards bigint, row_count bigint);
    TRUNCATE frame_stats;
    INSERT INTO frame_stats SELECT 'raw', nodeid, count(*), sum(row_count) FROM rollup.shard_stats('http_request') GROUP BY nodeid;
    INSERT INTO frame_stats SELECT 'rollup', nodeid, count(*), sum(row_count) FROM rollup.shard_stats('http_request_1min_native') GROUP BY nodeid;
    SELECT sum(row_count) INTO raw FROM frame_stats WHERE tbl = 'raw';
    SELECT sum(row_count) INTO rolled FROM frame_stats WHERE tbl = 'rollup';
    INSERT INTO demo.sample VALUES (now(), rate, lag, ms, raw, rolled) ON CONFLICT (at) DO NOTHING;
    out := format(E'rollup live dashboard  %s  (running %s s; Ctrl-C stops)\n',
                  to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
                  round(extract(epoch FROM now() - run_started)));
    out := out || format(E'ingest %s rows/s | rollup lag %s s | raw rows %s | rolled-up rows %s | dashboard query %s ms\n',
                         coalesce(round(rate), 0), coalesce(lag::text, '-'), coalesce(raw, 0), coalesce(rolled, 0), ms);
    out := out || E'\nlast 5 minutes, from the real-time view http_request_live (top 10 sites)\n';
    out := out || format(E'%5s %10s %9s %8s  %s\n', 'site', 'req/min', 'errors %', 'avg ms', 'requests');
    SELECT max(requests) INTO top FROM frame_rows;
    FOR r IN SELECT * FROM frame_rows ORDER BY requests DESC, site_id LIMIT 10 LOOP
        bar := greatest(1, (r.requests * (width - 40) / greatest(top, 1))::int);
        out := out || format(E'%5s %10s %9s %8s  %s\n', r.site_id, round(r.requests / 5.0),
                             round(100.0 * r.errors / greatest(r.requests, 1), 1), r.avg_ms, repeat('#', bar));
    END LOOP;
    out := out || E'\nrollup (native, scheduled every 5 s)\n';
    FOR r IN SELECT name, frontier, last_rows, last_run_duration, total_rows, coalesce(last_error, '') AS err
               FROM rollup.rollups ORDER BY level, name LOOP
        out := out || format(E'  %-28s frontier %s  last run %s rows in %s  total %s %s\n', r.name,
                             to_char(r.frontier AT TIME ZONE 'UTC', 'HH24:MI:SS'), r.last_rows,
                             coalesce(round(extract(epoch FROM r.last_run_duration) * 1000) || ' ms', '-'), r.total_rows, r.err);
    END LOOP;
    out := out || E'\nnodes (http_request: raw rows, shards | http_request_1min_native: rows)\n';
    FOR r IN SELECT CASE WHEN n.is_coordinator THEN 'coordinator' ELSE n.host || ':' || n.port END AS node,
                    sum(f.row_count) FILTER (WHERE f.tbl = 'raw') AS raw_rows, sum(f.shards) FILTER (WHERE f.tbl = 'raw') AS shards,
                    sum(f.row_count) FILTER (WHERE f.tbl = 'rollup') AS rollup_rows
               FROM rollup.nodes n JOIN frame_stats f USING (nodeid)
              GROUP BY 1 ORDER BY 1 LOOP
        out := out || format(E'  %-22s %10s raw rows %4s shards | %8s rolled-up rows\n', r.node, r.raw_rows, r.shards, r.rollup_rows);
    END LOOP;
    RETURN out;
END $$;

-- An inline SVG line chart: one polyline and one circle per data point for each series (x: time,
-- y: value). Every point carries its value (data-series, data-t, data-v) so a test can read the chart
-- back from the rendered page.
CREATE FUNCTION demo.svg_chart(chart_id text, title text, unit text, pts jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    w int := 760; h int := 240; ml int := 60; mr int := 150; mt int := 30; mb int := 30;
    x0 numeric; x1 numeric; ymax numeric; s record; p record; line text; dots text; out text;
    colors text[] := ARRAY['#1f77b4','#d62728','#2ca02c','#ff7f0e','#9467bd','#8c564b','#e377c2','#7f7f7f'];
    k int := 0; px numeric; py numeric; n int := 0;
BEGIN
    SELECT min((e->>'t')::numeric), max((e->>'t')::numeric), max((e->>'v')::numeric)
      INTO x0, x1, ymax FROM jsonb_array_elements(pts) e;
    IF x0 IS NULL THEN
        RETURN format('<h2>%s</h2><p>no data</p>', title);
    END IF;
    IF x1 = x0 THEN x1 := x0 + 1; END IF;
    IF coalesce(ymax, 0) <= 0 THEN ymax := 1; END IF;
    out := format('<h2>%s</h2><svg id="%s" class="chart" xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s">',
                  title, chart_id, w, h, w, h);
    out := out || format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#999"/><line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#999"/>',
                         ml, h - mb, w - mr, h - mb, ml, mt, ml, h - mb);
    out := out || format('<text x="4" y="%s" font-size="11">%s</text><text x="4" y="%s" font-size="11">0</text>',
                         mt + 4, round(ymax, 1) || ' ' || unit, h - mb);
    out := out || format('<text x="%s" y="%s" font-size="11">%s</text><text x="%s" y="%s" font-size="11" text-anchor="end">%s</text>',
                         ml, h - 8, to_char(to_timestamp(x0) AT TIME ZONE 'UTC', 'HH24:MI:SS'),
                         w - mr, h - 8, to_char(to_timestamp(x1) AT TIME ZONE 'UTC', 'HH24:MI:SS "UTC"'));
    FOR s IN SELECT DISTINCT e->>'s' AS name FROM jsonb_array_elements(pts) e ORDER BY 1 LOOP
        k := k + 1;
        line := ''; dots := '';
        FOR p IN SELECT (e->>'t')::numeric AS t, (e->>'v')::numeric AS v FROM jsonb_array_elements(pts) e
                  WHERE e->>'s' = s.name ORDER BY 1 LOOP
            px := round(ml + (p.t - x0) / (x1 - x0) * (w - ml - mr), 1);
            py := round(h - mb - p.v / ymax * (h - mt - mb), 1);
            line := line || px || ',' || py || ' ';
            dots := dots || format('<circle class="pt" r="2.5" cx="%s" cy="%s" fill="%s" data-series="%s" data-t="%s" data-v="%s"/>',
                                   px, py, colors[1 + (k - 1) % 8], s.name, p.t, p.v);
            n := n + 1;
        END LOOP;
        out := out || format('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>', colors[1 + (k - 1) % 8], line) || dots;
        out := out || format('<text x="%s" y="%s" font-size="12" fill="%s">%s</text>', w - mr + 8, mt + 14 * k, colors[1 + (k - 1) % 8], s.name);
    END LOOP;
    RETURN out || format('</svg><p class="points" data-chart="%s" data-count="%s">%s data points</p>', chart_id, n, n);
END $$;

-- demo/report.html: one self-contained page (inline SVG, no script, no network).
CREATE FUNCTION demo.report(run_started timestamptz, settings text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    per_site jsonb; errors jsonb; ingest jsonb; lag jsonb; latency jsonb; figures text; html text;
    top_sites int[];
BEGIN
    SELECT array_agg(site_id ORDER BY n DESC) INTO top_sites FROM (
        SELECT site_id, sum(request_count) AS n FROM http_request_live WHERE ingest_time >= date_trunc('minute', run_started)
         GROUP BY site_id ORDER BY n DESC, site_id LIMIT 5) t;
    SELECT coalesce(jsonb_agg(jsonb_build_object('s', 'site ' || site_id, 't', extract(epoch FROM ingest_time), 'v', request_count)
                              ORDER BY site_id, ingest_time), '[]')
      INTO per_site FROM http_request_live
     WHERE ingest_time >= date_trunc('minute', run_started) AND site_id = ANY (top_sites);
    SELECT coalesce(jsonb_agg(jsonb_build_object('s', 'errors, all sites', 't', extract(epoch FROM m), 'v', e) ORDER BY m), '[]')
      INTO errors FROM (SELECT ingest_time AS m, sum(error_count) AS e FROM http_request_live
                         WHERE ingest_time >= date_trunc('minute', run_started) GROUP BY 1) x;
    SELECT coalesce(jsonb_agg(jsonb_build_object('s', 'rows/s', 't', extract(epoch FROM at), 'v', ingest_rows_per_s) ORDER BY at), '[]'),
           coalesce(jsonb_agg(jsonb_build_object('s', 'lag s', 't', extract(epoch FROM at), 'v', lag_s) ORDER BY at)
                    FILTER (WHERE lag_s IS NOT NULL), '[]'),
           coalesce(jsonb_agg(jsonb_build_object('s', 'ms', 't', extract(epoch FROM at), 'v', dashboard_ms) ORDER BY at), '[]')
      INTO ingest, lag, latency FROM demo.sample WHERE at >= run_started;
    SELECT format('<table><tr><th>run</th><td>%s to %s (%s s)</td></tr>'
                  '<tr><th>settings</th><td>%s</td></tr>'
                  '<tr><th>frames</th><td>%s</td></tr>'
                  '<tr><th>ingest rate</th><td>median %s rows/s, max %s rows/s</td></tr>'
                  '<tr><th>dashboard query on the real-time view</th><td>median %s ms, p95 %s ms</td></tr>'
                  '<tr><th>rollup lag</th><td>median %s s, max %s s</td></tr>'
                  '<tr><th>raw rows at the end</th><td>%s</td></tr><tr><th>rolled-up rows at the end</th><td>%s</td></tr>'
                  '<tr><th>rollup runs (scheduled)</th><td>%s succeeded, %s failed</td></tr>'
                  '<tr><th>expiry runs</th><td>%s, %s raw rows expired</td></tr></table>',
                  to_char(run_started AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), to_char(now() AT TIME ZONE 'UTC', 'HH24:MI:SS "UTC"'),
                  round(extract(epoch FROM now() - run_started)), settings, count(*),
                  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ingest_rows_per_s)), round(max(ingest_rows_per_s)),
                  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY dashboard_ms)::numeric, 1),
                  round(percentile_cont(0.95) WITHIN GROUP (ORDER BY dashboard_ms)::numeric, 1),
                  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_s)::numeric, 1), max(lag_s),
                  (SELECT raw_rows FROM demo.sample ORDER BY at DESC LIMIT 1),
                  (SELECT rollup_rows FROM demo.sample ORDER BY at DESC LIMIT 1),
                  (SELECT count(*) FROM rollup.job_runs WHERE job_name = 'rollup-native' AND status = 'succeeded' AND started >= run_started),
                  (SELECT count(*) FROM rollup.job_runs WHERE job_name = 'rollup-native' AND status = 'failed' AND started >= run_started),
                  (SELECT count(*) FROM rollup.job_runs WHERE job_name LIKE 'expire %' AND started >= run_started),
                  (SELECT coalesce(sum(rows), 0) FROM rollup.job_runs WHERE job_name LIKE 'expire %' AND started >= run_started))
      INTO figures FROM demo.sample WHERE at >= run_started;
    html := '<!DOCTYPE html><html><head><meta charset="utf-8"><title>rollup demo report</title>'
         || '<style>body{font-family:sans-serif;margin:2em;max-width:60em}th{text-align:left;padding-right:1em}'
         || 'h2{font-size:1.05em;margin-top:1.5em}svg{border:1px solid #ddd;background:#fff}</style></head><body>'
         || '<h1>rollup: real-time dashboard demo</h1>'
         || '<p>The tutorial''s web traffic, ingested live, rolled up per minute by the native rollup in the server and read '
         || 'through the real-time view <code>http_request_live</code> (exact to the second).</p>'
         || figures
         || demo.svg_chart('requests', 'Requests per minute, top sites (real-time view)', 'req/min', per_site)
         || demo.svg_chart('errors', 'Errors per minute, all sites (real-time view)', 'err/min', errors)
         || demo.svg_chart('ingest', 'Ingest rate over the run', 'rows/s', ingest)
         || demo.svg_chart('lag', 'Rollup lag over the run (now - frontier)', 's', lag)
         || demo.svg_chart('latency', 'Dashboard query latency', 'ms', latency)
         || '</body></html>';
    RETURN html;
END $$;
