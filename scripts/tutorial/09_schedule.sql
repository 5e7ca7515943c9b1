-- Tutorial: "In production you could wrap these queries in a function and call it every minute in
-- a cron job." rollup's in-server scheduler does it, no outside cron needed: the rollup every
-- minute, and the expiry policy (1 day of raw data, 1 month of per-minute aggregates).
SELECT rollup.schedule('rollup-1min', '* * * * *', 'SELECT rollup_http_request()');
SELECT rollup.set_retention('http_request', 'ingest_time', '1 day');
SELECT rollup.set_retention('http_request_1min', 'ingest_time', '1 month');
SELECT job_name, schedule, command FROM rollup.jobs ORDER BY job_name;
