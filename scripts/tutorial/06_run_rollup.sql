-- Tutorial: "With our function in place, execute it to roll up the data" (verbatim).
SELECT rollup_http_request();
