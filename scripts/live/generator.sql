-- The demo's ingest generator (pgbench script): one transaction per web-tier batch of :batch rows,
-- the tutorial's data shape. Sites 0-3 are hot (half of all requests); site 3 has error bursts in
-- odd minutes; response times grow with load on the hot sites. ingest_time is the column's
-- DEFAULT now(), as a web tier inserting without a timestamp would get.
INSERT INTO http_request (site_id, url, request_country, ip_address, status_code, response_time_msec)
SELECT s, concat('https://example.com/', md5(random()::text)),
       ('{China,India,USA,Indonesia}'::text[])[ceil(random()*4)],
       concat(trunc(random()*250 + 2), '.', trunc(random()*250 + 2), '.', trunc(random()*250 + 2), '.',
              trunc(random()*250 + 2))::inet,
       CASE WHEN s = 3 AND extract(minute FROM now())::int % 2 = 1 AND random() < 0.4 THEN 500
            WHEN random() < 0.05 THEN 404 ELSE 200 END,
       5 + trunc(random() * 150) + CASE WHEN s < 4 THEN trunc(random() * 80) ELSE 0 END
  FROM (SELECT CASE WHEN random() < 0.5 THEN trunc(random() * 4)::int ELSE trunc(random() * 32)::int END AS s
          FROM generate_series(1, :batch)) g;
