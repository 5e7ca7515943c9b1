-- Tutorial step "Generate sample data". The tutorial's loop runs forever (a row every quarter
-- second, until cancelled); here the same INSERT runs demo.rows times without the sleep, so that the
-- demo ends. Everything else is verbatim.
DO $$
  BEGIN FOR i IN 1..current_setting('demo.rows')::int LOOP
    INSERT INTO http_request (
      site_id, ingest_time, url, request_country,
      ip_address, status_code, response_time_msec
    ) VALUES (
      trunc(random()*32), clock_timestamp(),
      concat('https://example.com/', md5(random()::text)),
      ('{China,India,USA,Indonesia}'::text[])[ceil(random()*4)],
      concat(
        trunc(random()*250 + 2), '.',
        trunc(random()*250 + 2), '.',
        trunc(random()*250 + 2), '.',
        trunc(random()*250 + 2)
      )::inet,
      ('{200,404}'::int[])[ceil(random()*2)],
      5+trunc(random()*150)
    );
  END LOOP;
END $$;
