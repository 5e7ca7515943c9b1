-- Tutorial step "Shard tables across nodes" (verbatim).
SELECT create_distributed_table('http_request',      'site_id');
SELECT create_distributed_table('http_request_1min', 'site_id');
