"""The shape-generated differential corpus: generator and runner (test/shell/differential_corpus.sh
sets up the cluster and describes what is covered; this file is not run on its own).

Generation is deterministic for a seed and a server: the expression list and the statement shapes
are fixed below, the aggregate list comes from pg_aggregate, and each expression's result type (which
decides the shapes it goes into) is asked of the server on the loc schema; the seed picks the
optional shapes, constants and compositions. Every statement then runs on both schemas under each
settings profile and the outcomes are compared.
"""
import collections
import math
import os
import random
import re
import sys
import threading
import time

import psycopg
from psycopg.adapt import Loader

PORT = os.environ["DIFF_PORT"]
SEED = int(os.environ["DIFF_SEED"])
PROFILE_NAMES = [p for p in os.environ["DIFF_PROFILES"].split(",") if p]
LOGS = [l for l in os.environ["DIFF_LOGS"].split(":") if l]
CORPUS_OUT = os.environ.get("DIFF_CORPUS_OUT")
DETAIL = os.environ.get("DIFF_DETAIL")
TIMEOUT_MS = 10000
CLIENT_TIMEOUT = 60.0
SHOW = 8

PROFILES = {
    "default": "",
    "kolkata": "-c DateStyle=SQL,DMY -c IntervalStyle=postgres_verbose -c TimeZone=Asia/Kolkata "
               "-c bytea_output=escape -c extra_float_digits=0",
    "stjohns": "-c DateStyle=German -c IntervalStyle=iso_8601 -c TimeZone=America/St_Johns "
               "-c default_text_search_config=pg_catalog.simple -c extra_float_digits=3",
}
for p in PROFILE_NAMES:
    if p not in PROFILES:
        sys.exit("FAIL: unknown profile %s (known: %s)" % (p, ", ".join(PROFILES)))

# ---------------------------------------------------------------------------------------------
# Expressions over kinds (alias k), one a line. The shapes they go into depend on their type.
# ---------------------------------------------------------------------------------------------
EXPRESSIONS = r"""
# operators and functions of the numeric types
k.i4 + k.i2 * 3
k.i8 - k.id
k.i4 / NULLIF(k.i2, 0)
k.i4 % 7
-k.i4
@ k.i2
k.i4 & 255
k.i4 | 3
k.i2 # 5
~k.i4
k.i4 << 2
k.i8 >> 3
k.n * 2.5
k.n / 3
k.n % 2
k.f8 * 2
k.f8 / 7
k.f4 + 1
k.f8 ^ 2
|/ abs(k.f8)
||/ k.f8
k.i4::numeric / 7
abs(k.i4 - 500)
round(k.n, 1)
round(k.f8)
trunc(k.n, -1)
ceil(k.f8)
floor(k.n)
sign(k.f8)
mod(k.i4, 9)
power(k.i2, 2)
sqrt(abs(k.f8))
exp(k.f8 / 10)
ln(abs(k.n) + 1)
log(abs(k.n) + 1)
gcd(k.i4, 360)
lcm(k.i2, 12)
width_bucket(k.f8, -10, 20, 5)
div(k.n, 3)
scale(k.n)
trim_scale(k.n)
k.n::float8 + k.f8
degrees(k.f8)
sin(k.f8)
factorial(abs(k.i2 % 10))
k.f8 = 'NaN'
k.f4 > 'Infinity'::real
k.n = 'NaN'
k.i4 BETWEEN 100 AND 900
k.i4 NOT BETWEEN SYMMETRIC 900 AND 100
# text
upper(k.t)
lower(k.t) || k.vc
length(k.t)
octet_length(k.t)
substr(k.t, 2, 3)
SUBSTRING(k.t FROM 2 FOR 3)
SUBSTRING(k.t FROM 't(\d)')
SUBSTRING(k.t SIMILAR 't#"[0-9]#"%' ESCAPE '#')
POSITION('1' IN k.t)
TRIM(BOTH 't' FROM k.t)
TRIM(LEADING FROM k.ch)
TRIM(TRAILING 'a' FROM k.t)
OVERLAY(k.t PLACING 'XY' FROM 2 FOR 1)
k.t LIKE 't1%'
k.t NOT ILIKE '%A%'
k.t SIMILAR TO 't[0-9]{2}%'
k.t ~ '^t[0-9]+a$'
k.t ~* 'Z'
k.t !~ '1'
regexp_replace(k.t, '[0-9]', '#', 'g')
regexp_match(k.t, '([0-9]+)(.)')
split_part(k.vc, 'v', 2)
reverse(k.vc)
md5(k.t)
lpad(k.t, 8, '*')
rpad(k.vc, 6)
initcap(k.words)
replace(k.words, 'the', 'THE')
translate(k.t, 't1', 'T!')
left(k.t, 2)
right(k.t, -1)
repeat(k.vc, 2)
ascii(k.t)
chr(65 + k.id::int % 26)
strpos(k.words, 'o')
starts_with(k.t, 't1')
quote_literal(k.t)
quote_ident(k.t)
quote_nullable(k.d)
to_hex(k.i4)
encode(k.bt, 'base64')
k.ch || '|'
length(k.ch)
k.ch = 'a'
k.ch::text
k.vc::char(2)
k.t::varchar(3)
k.t::char(2)
k.vc::name
normalize(k.t)
k.t IS NFC NORMALIZED
COLLATION FOR (k.t)
string_to_array(k.words, ' ')
array_to_string(k.tarr, ',', '*')
k.t COLLATE "C" < 'T'
lower(k.t COLLATE "POSIX")
k.words < 'm' COLLATE "und-x-icu"
upper(k.t COLLATE "und-x-icu")
to_char(k.f8, 'FM999.99')
to_char(k.i4, '9,999')
to_char(k.n, 'S000D00')
to_number(k.i4::text, '9999')
# text whose form depends on the settings (DateStyle, IntervalStyle, extra_float_digits, bytea_output)
concat(k.t, k.i4, k.d)
concat_ws('|', k.t, k.ts, k.iv)
format('%s-%s-%L', k.id, k.d, k.t)
format('%s %s', k.f8, k.bt)
k.t || k.d
k.t || k.f8
k.t || k.f4
k.vc || k.iv
k.t || k.bt
k.t || k.tz
k.t || k.tm
k.t || k.ttz
k.d::text
k.ts::text
k.tz::text
k.iv::text
k.tm::text
k.ttz::text
k.f8::text
k.f4::text
k.bt::text
k.n::text
ROW(k.d, k.iv)::text
ROW(k.tz, k.f8, k.bt)::text
ARRAY[k.d]::text
ARRAY[k.ts, k.ts + k.iv]
ARRAY[k.f8, k.f4]
array_to_string(ARRAY[k.d, k.d + 1], ',')
# dates and times
k.d + 7
k.d - date '2024-01-01'
k.d > '05/03/2024'
k.d = ANY (ARRAY['2024-01-05', '03/04/2024']::date[])
k.ts < '10/02/2024 10:00'
k.tz > '2024-03-10 02:30'
k.tz::date
k.ts::timestamptz
k.tz::timestamp
k.d::timestamptz
k.tz::time
k.tz::timetz
k.ts::timestamp(0)
k.tz::timestamptz(1)
k.iv::interval(0)
k.iv::interval hour to minute
date_trunc('month', k.ts)
date_trunc('day', k.tz)
date_trunc('week', k.tz)
date_trunc('hour', k.tz, 'Asia/Tokyo')
date_bin('15 minutes', k.tz, timestamptz '2000-01-01 00:00+00')
date_bin('1 day', k.ts, timestamp '2024-01-01 06:00')
k.tz AT TIME ZONE 'UTC'
k.ts AT TIME ZONE 'America/New_York'
k.tz AT TIME ZONE INTERVAL '+05:30'
k.ttz AT TIME ZONE 'Asia/Tokyo'
timezone('Europe/Berlin', k.tz)
k.ts + k.iv
k.tz - interval '1 day'
k.tz + interval '1 month'
k.tz + k.iv
k.tz - k.ts::timestamptz
k.ts - timestamp '2024-01-01'
age(k.ts, timestamp '2024-01-01')
age(k.tz, timestamptz '2024-01-01 00:00+00')
justify_interval(k.iv * 100)
justify_hours(k.iv * 1000)
justify_days(k.iv * 40)
k.iv * 2.5
k.iv / 3
-k.iv
k.tm + interval '30 minutes'
k.tm - time '12:00'
make_date(2024, (k.id % 12 + 1)::int, 1)
make_interval(days => k.i2)
make_timestamptz(2024, 3, 10, 2, 30, 0)
make_timestamp(2024, (k.id % 12 + 1)::int, 3, 4, 5, 6.5)
to_char(k.tz, 'YYYY-MM-DD HH24:MI:SS TZ OF')
to_char(k.d, 'Day DD Month YYYY')
to_char(k.ts, 'IYYY-IW-ID HH12 AM')
to_char(k.iv, 'HH24:MI:SS')
to_timestamp(k.id * 100000)
to_timestamp(k.t, 'tDDD')
to_date('05/03/2024', 'DD/MM/YYYY')
((k.id % 9 + 1) || '/' || (k.id % 3 + 10) || '/2024')::date
((k.id % 9 + 1) || '/' || (k.id % 3 + 10) || '/2024 10:00')::timestamptz
('2024-03-10 ' || (k.id % 24) || ':30')::timestamptz
(k.id || ' hours ' || k.i2 || ' minutes')::interval
(k.tz::text)::timestamptz = k.tz
(k.iv::text)::interval = k.iv
k.tz = k.ts
k.d < k.tz
k.ts::date = k.d
isfinite(k.ts)
isfinite(k.d)
k.d = 'infinity'
k.ts = '-infinity'
k.tz IS DISTINCT FROM 'infinity'
(k.tz, k.tz + interval '1 hour') OVERLAPS (timestamptz '2024-03-10 00:00+00', interval '1 day')
(k.ts, k.iv) OVERLAPS (timestamp '2024-01-05', interval '3 days')
# EXTRACT and date_part
@EXTRACT tz century day decade dow doy epoch hour isodow isoyear julian microseconds millennium milliseconds minute month quarter second timezone timezone_hour timezone_minute week year
@EXTRACT ts century day decade dow doy epoch hour isodow isoyear julian microseconds millennium milliseconds minute month quarter second week year
@EXTRACT d century day decade dow doy epoch isodow isoyear julian millennium month quarter week year
@EXTRACT iv century day decade epoch hour microseconds millennium milliseconds minute month quarter second year
@EXTRACT tm hour microseconds milliseconds minute second epoch
@EXTRACT ttz hour minute timezone timezone_hour timezone_minute epoch
date_part('epoch', k.tz)
date_part('hour', k.ts)
date_part('day', k.iv)
date_part('dow', k.d)
# SQL value functions: only in forms whose value does not depend on the instant each side runs
CURRENT_DATE > k.d
CURRENT_TIMESTAMP > k.tz
CURRENT_TIMESTAMP(0) > k.tz
LOCALTIMESTAMP > k.ts
LOCALTIMESTAMP(2) > k.ts
CURRENT_TIME IS NOT NULL
LOCALTIME(1) IS NOT NULL
EXTRACT(year FROM CURRENT_DATE) > 2000
k.d < CURRENT_DATE - 1
CURRENT_USER || k.vc
SESSION_USER
CURRENT_ROLE
USER = 'differ'
CURRENT_CATALOG
# booleans and NULL tests
k.b
NOT k.b
k.b IS TRUE
k.b IS NOT FALSE
k.b IS UNKNOWN
k.i4 IS NULL
k.t IS NOT NULL
k.b AND k.i4 > 0
k.b OR k.t IS NULL
ROW(k.i4, k.t) IS NULL
ROW(k.i4, k.t) IS NOT NULL
k.b::int
k.i4::bool
num_nulls(k.i4, k.t, k.d)
num_nonnulls(k.i4, k.t)
# CASE, COALESCE, NULLIF, GREATEST, LEAST
CASE WHEN k.i4 > 1000 THEN 'big' WHEN k.i4 IS NULL THEN 'none' ELSE 'small' END
CASE k.i2 % 3 WHEN 0 THEN k.t WHEN 1 THEN k.vc END
CASE WHEN k.b THEN k.d END
CASE WHEN k.f8 > 0 THEN k.f8 ELSE -k.f8 END
CASE k.b WHEN true THEN 1 WHEN false THEN 0 ELSE NULL END
COALESCE(k.i4, k.i2, -1)
COALESCE(k.t, k.vc, '')
COALESCE(k.d, k.ts)
COALESCE(NULL::int, NULL)
NULLIF(k.i2 % 4, 0)
NULLIF(k.t, '')
GREATEST(k.i4, k.i2, 0)
LEAST(k.n, 3, NULL)
GREATEST(k.d, k.ts)
LEAST(k.t, k.vc)
GREATEST(k.f8, k.f4)
# row comparisons and IS DISTINCT FROM
ROW(k.i4, k.t) < ROW(500, 't5')
(k.i2, k.i4) > (0, 0)
(k.i2, k.i4) IS DISTINCT FROM (k.i4, k.i2)
ROW(k.i4, k.i2) = ROW(k.i2, k.i4)
(k.d, k.b) IS NOT DISTINCT FROM (date '2024-01-10', true)
(k.i2, k.t) <= (10, NULL)
k.i4 IS DISTINCT FROM k.i2
k.t IS NOT DISTINCT FROM NULL
k.d IS DISTINCT FROM '2024-01-05'
# ScalarArrayOp: ANY/ALL with NULL elements, empty and NULL arrays
k.i2 = ANY (ARRAY[1, 2, 3, NULL])
k.i2 <> ALL (ARRAY[1, 2, NULL])
k.i2 = ANY ('{}'::int[])
k.i2 <> ALL ('{}'::smallint[])
k.i2 = ANY (NULL::int[])
k.i2 IN (1, 2, 50)
k.i2 NOT IN (1, NULL)
k.i2 NOT IN (1, 2)
k.t = ANY (k.tarr)
k.i4 > ALL (k.arr)
k.id = ANY (k.arr)
3 = ANY (k.arr)
k.i2 = ANY (ARRAY[k.i4, k.id])
k.t LIKE ANY (ARRAY['t1%', 't2%'])
k.t ILIKE ALL (ARRAY['%1%', '%2%'])
k.vc IN ('v1', 'v2', NULL)
# arrays: subscripts, slices, functions, coercions
k.arr[1]
k.arr[2:3]
k.arr[:2]
k.arr[2:]
k.arr[0]
k.tarr[1]
k.arr[k.i2 % 3 + 1]
(k.j -> 'a')
array_length(k.arr, 1)
cardinality(k.arr)
array_upper(k.tarr, 1)
array_dims(k.arr)
ARRAY[k.i2, k.i4]
k.arr || 7
k.arr @> ARRAY[1]
k.arr && ARRAY[2, 3]
k.arr <@ ARRAY[1, 2, 3]
array_position(k.arr, 0)
array_remove(k.arr, NULL)
array_cat(k.arr, ARRAY[k.i2::int])
k.arr::text[]
k.arr::bigint[]
k.arr::text
array_to_json(k.arr)
ARRAY(SELECT k2.w FROM kinds2 k2 WHERE k2.id = k.id ORDER BY k2.w)
# FieldSelect and whole rows
(CASE WHEN k.b THEN k END).t
(CASE WHEN k.i2 > 0 THEN k END).d
(jsonb_populate_record(NULL::kinds, jsonb_build_object('i4', k.i2))).i4
row_to_json(ROW(k.id, k.d, k.tz))
# casts with typmods, coercions, a domain
k.n::numeric(5,1)
k.f8::numeric(10,2)
k.n::int
k.f8::int
(k.i4 % 30000)::int2
k.f8::real
k.id::text::int8
k.j::text::jsonb
k.vc::text
k.i2::int::bit(4)
k.vb::int
(abs(k.i2) + 1)::posint
k.u::text
k.ip::text
k.x::text
# JSON
k.j -> 'k'
k.j ->> 'k'
k.j #> '{a,0}'
k.j #>> '{a,1}'
k.j ? 'k'
k.j ?| ARRAY['k', 'z']
k.j ?& ARRAY['k', 'a']
k.j @> '{"k": 5}'
'{"k": 5}' <@ k.j
k.j - 'k'
k.j || '{"z": 1}'
k.j['a'][0]
k.j['n']
jsonb_path_query_first(k.j, '$.a[0]')
k.j @? '$.a[*] ? (@ > 2)'
k.j @@ '$.k > 100'
jsonb_path_exists(k.j, '$.k ? (@ > $x)', '{"x": 50}')
jsonb_path_exists_tz(k.j, '$.ts ? (@.datetime() < "2024-02-01".datetime())')
jsonb_path_query_first_tz(k.j, '$.ts.datetime("YYYY-MM-DD\"T\"HH24:MI:SS")')
jsonb_typeof(k.j -> 'a')
jsonb_array_length(k.j -> 'a')
k.js -> 'k'
k.js ->> 'l'
json_typeof(k.js)
k.js::jsonb
k.j::text
jsonb_pretty(k.j)
jsonb_set(k.j, '{k}', '0')
jsonb_strip_nulls(k.j)
k.j -> 'missing' IS NULL
to_jsonb(k.tz)
to_json(k.ts)
to_jsonb(k.iv)
to_jsonb(k.d)
jsonb_build_object('d', k.d, 'f', k.f8)
json_build_array(k.f4, k.bt)
json_build_object('t', k.tm, 'z', k.ttz)
# XML
xmlelement(name e, xmlattributes(k.id AS id), k.t)
xmlforest(k.i4, k.t, k.d)
xmlelement(name ts, k.tz)
xmlelement(name v, k.ts, k.iv, k.f8)
k.x IS DOCUMENT
k.x IS NOT DOCUMENT
xpath('/r/@a', k.x)
xpath_exists('/r/c', k.x)
XMLSERIALIZE(CONTENT k.x AS text)
xmlconcat(k.x, xmlcomment('c'))
xml_is_well_formed(k.t)
XMLEXISTS('/r[@a="1"]' PASSING BY REF k.x)
xmlparse(content k.vc)
XMLPI(name php, k.vc)
# text search (default_text_search_config and explicit configurations)
to_tsvector(k.words)
to_tsvector('english', k.words)
to_tsvector(k.words) @@ to_tsquery('run')
plainto_tsquery(k.words)
k.tsv @@ 'dog'::tsquery
ts_rank(k.tsv, 'dog'::tsquery)
numnode(plainto_tsquery(k.words))
k.words @@ 'jump'
websearch_to_tsquery('running -dog')
phraseto_tsquery(k.words)
length(to_tsvector(k.words))
ts_headline(k.words, to_tsquery('dog'))
k.tsv
k.tsv || to_tsvector('simple', k.vc)
# network, uuid, bytea, ranges, bits
host(k.ip)
k.ip << '10.1.0.0/16'
masklen(k.ip)
k.ip + 1
family(k.ip)
abbrev(k.ip)
network(k.ip)
set_masklen(k.ip, 8)
k.u < 'a0000000-0000-0000-0000-000000000000'
k.bt
length(k.bt)
get_byte(k.bt, 0)
SUBSTRING(k.bt FROM 2 FOR 3)
k.bt || '\x00'::bytea
md5(k.bt)
encode(k.bt, 'escape')
sha256(k.bt)
POSITION('\x27'::bytea IN k.bt)
k.r @> 5
lower(k.r)
upper_inf(k.r)
k.r && int4range(0, 10)
k.r * int4range(3, 100)
isempty(k.r)
k.r::text
int4range(k.i2, k.i2 + 5)
k.r -|- int4range(10, 20)
k.vb
k.vb & B'10101010'
bit_count(k.vb)
get_bit(k.vb, 0)
# subqueries as expressions
(SELECT count(*) FROM kinds2 k2 WHERE k2.id = k.id)
(SELECT max(s.name) FROM sites s WHERE s.site_id = k.i2 % 16)
EXISTS (SELECT 1 FROM countries c WHERE c.code = upper(k.vc))
k.i2 IN (SELECT site_id FROM sites)
k.i2 = ANY (SELECT site_id FROM sites WHERE country = 'US')
k.i2 > ALL (SELECT site_id FROM sites WHERE site_id < 0)
k.t NOT IN (SELECT code FROM countries)
k.vc NOT IN (SELECT label FROM kinds2)
(k.i2, k.vc) IN (SELECT w, label FROM kinds2)
(SELECT k2.label FROM kinds2 k2 WHERE k2.id = k.id + 1)
"""

EXTRACT_LINE = re.compile(r"^@EXTRACT (\w+) (.*)$")


def expression_list():
    out = []
    for line in EXPRESSIONS.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = EXTRACT_LINE.match(line)
        if m:
            col, fields = m.group(1), m.group(2).split()
            out += ["EXTRACT(%s FROM k.%s)" % (f, col) for f in fields]
            continue
        out.append(line)
    return out


# ---------------------------------------------------------------------------------------------
# Statements that are not one expression in a shape: GROUP BY forms, DISTINCT, joins, subqueries,
# CTEs, windows, LIMIT/OFFSET, set operations. "-- ordered" at the end: compared in order.
# ---------------------------------------------------------------------------------------------
FIXED = r"""
SELECT k.i2 % 3 AS a, k.b, count(*), sum(k.i4) FROM kinds k GROUP BY GROUPING SETS ((1), (2), ())
SELECT k.i2 % 3 AS a, k.b, count(*), GROUPING(k.i2 % 3, k.b) FROM kinds k GROUP BY ROLLUP (k.i2 % 3, k.b)
SELECT k.i2 % 2 AS a, k.b, k.vc IS NULL AS v, count(*), max(k.d) FROM kinds k GROUP BY CUBE (1, 2, 3)
SELECT k.id % 5 AS a, count(*) FROM kinds k GROUP BY 1 HAVING count(*) > 60
SELECT k.id, count(*) FROM kinds k GROUP BY k.id HAVING k.id % 50 = 0
SELECT count(*) FROM kinds k HAVING count(*) > 1000
SELECT k.b, count(*) FROM kinds k GROUP BY k.b HAVING bool_or(k.i4 > 1000)
SELECT date_trunc('hour', k.tz) AS h, count(*), min(k.id) FROM kinds k GROUP BY 1
SELECT k.d, count(*) FROM kinds k GROUP BY k.d HAVING count(*) > 1
SELECT site_id, date_trunc('minute', ingest_time) AS m, count(*), avg(response_time_msec)::numeric(10,3) FROM http_request GROUP BY 1, 2
SELECT date_trunc('minute', ingest_time) AS m, count(*), sum(response_time_msec) FROM http_request GROUP BY 1
SELECT site_id, date_trunc('minute', ingest_time), count(1) AS request_count, sum(CASE WHEN status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS success_count, sum(CASE WHEN status_code BETWEEN 200 AND 299 THEN 0 ELSE 1 END) AS error_count, sum(response_time_msec) / count(1) AS average_response_time_msec FROM http_request WHERE date_trunc('minute', ingest_time) <= now() GROUP BY site_id, date_trunc('minute', ingest_time)
SELECT site_id, ingest_time AS minute, request_count, success_count, error_count, average_response_time_msec FROM http_request_1min WHERE ingest_time > date_trunc('minute', timestamptz '2024-03-10 01:00+00') - interval '5 minutes' ORDER BY 1, 2 -- ordered
SELECT request_country, count(*) FROM http_request GROUP BY ROLLUP (request_country)
SELECT status_code, request_country, count(*) FROM http_request GROUP BY GROUPING SETS ((status_code), (request_country), (status_code, request_country))
SELECT DISTINCT k.i2 % 7 FROM kinds k
SELECT DISTINCT k.b, k.ch FROM kinds k
SELECT DISTINCT ON (k.i2 % 5) k.i2 % 5, k.id FROM kinds k ORDER BY k.i2 % 5, k.id -- ordered
SELECT DISTINCT ON (k.b) k.b, k.t FROM kinds k ORDER BY k.b, k.t DESC NULLS LAST, k.id -- ordered
SELECT DISTINCT ON (site_id) site_id, ingest_time, url FROM http_request ORDER BY site_id, ingest_time DESC, url -- ordered
SELECT count(DISTINCT k.vc), count(DISTINCT (k.i2, k.b)) FROM kinds k
SELECT DISTINCT request_country FROM http_request
SELECT h.site_id, s.name, count(*) FROM http_request h JOIN sites s ON h.site_id = s.site_id GROUP BY 1, 2
SELECT h.site_id, s.name FROM http_request h LEFT JOIN sites s ON h.site_id = s.site_id AND s.country = 'US'
SELECT s.site_id, count(h.url) FROM http_request h RIGHT JOIN sites s ON h.site_id = s.site_id GROUP BY 1
SELECT s.site_id, h.site_id, count(*) FROM http_request h FULL JOIN sites s ON h.site_id = s.site_id AND h.status_code = 404 GROUP BY 1, 2
SELECT k.id, k2.label FROM kinds k JOIN kinds2 k2 ON k.id = k2.id
SELECT k.id, k2.label FROM kinds k LEFT JOIN kinds2 k2 ON k.id = k2.id WHERE k.id < 60
SELECT k.id, k2.id FROM kinds k RIGHT JOIN kinds2 k2 ON k.id = k2.id AND k2.w > 2
SELECT k.id, k2.id, k2.w FROM kinds k FULL JOIN kinds2 k2 ON k.id = k2.id AND k.b
SELECT k.id, k2.id FROM kinds k FULL JOIN kinds2 k2 ON k.id = k2.id WHERE k.id IS NULL OR k2.id IS NULL
SELECT k.id, k2.id FROM kinds k JOIN kinds2 k2 ON k.id = k2.id + 1
SELECT k.id, s.name FROM kinds k JOIN sites s ON k.i2 = s.site_id
SELECT k.id, s.name FROM kinds k LEFT JOIN sites s ON k.i2 % 16 = s.site_id WHERE k.id < 40
SELECT s.site_id, k.id FROM kinds k RIGHT JOIN sites s ON k.i2 = s.site_id
SELECT s.site_id, k.id FROM kinds k FULL JOIN sites s ON k.i2 = s.site_id AND k.b
SELECT count(*) FROM kinds k CROSS JOIN sites s
SELECT k.id, s.site_id FROM kinds k CROSS JOIN sites s WHERE k.id < 4 AND s.site_id < 3
SELECT k.id, c.name FROM kinds k JOIN countries c ON c.code = upper(substr(k.vc, 1, 2))
SELECT h.url, c.name FROM http_request h JOIN countries c ON h.request_country = c.code WHERE h.site_id = 3
SELECT h.request_country, c.name, count(*) FROM http_request h LEFT JOIN countries c ON h.request_country = c.code GROUP BY 1, 2
SELECT c.code, count(h.site_id) FROM countries c LEFT JOIN http_request h ON h.request_country = c.code GROUP BY 1
SELECT c.code, h.site_id FROM http_request h RIGHT JOIN countries c ON h.request_country = c.code AND h.site_id = 5
SELECT c.code, h.request_country, count(*) FROM http_request h FULL JOIN countries c ON h.request_country = c.code GROUP BY 1, 2
SELECT s.name, c.name FROM sites s JOIN countries c ON s.country = c.code
SELECT s.name, c.name FROM sites s FULL JOIN countries c ON s.country IS NOT DISTINCT FROM c.code
SELECT k.id FROM kinds k WHERE EXISTS (SELECT 1 FROM kinds2 k2 WHERE k2.id = k.id AND k2.w = 3)
SELECT k.id FROM kinds k WHERE NOT EXISTS (SELECT 1 FROM kinds2 k2 WHERE k2.id = k.id)
SELECT k.id FROM kinds k WHERE k.id IN (SELECT k2.id FROM kinds2 k2 WHERE k2.label IS NULL)
SELECT k.id FROM kinds k WHERE k.id NOT IN (SELECT k2.id FROM kinds2 k2)
SELECT k.id FROM kinds k WHERE k.vc NOT IN (SELECT k2.label FROM kinds2 k2)
SELECT k.id FROM kinds k WHERE k.i2 NOT IN (SELECT s.site_id FROM sites s)
SELECT count(*) FROM http_request h WHERE h.request_country NOT IN (SELECT code FROM countries)
SELECT count(*) FROM http_request h WHERE h.request_country NOT IN (SELECT code FROM countries WHERE code IS NOT NULL)
SELECT count(*) FROM http_request h WHERE NOT EXISTS (SELECT 1 FROM countries c WHERE c.code = h.request_country)
SELECT count(*) FROM http_request h WHERE h.site_id IN (SELECT s.site_id FROM sites s WHERE s.country = 'DE')
SELECT s.site_id FROM sites s WHERE EXISTS (SELECT 1 FROM http_request h WHERE h.site_id = s.site_id AND h.status_code = 500)
SELECT s.site_id FROM sites s WHERE s.site_id NOT IN (SELECT site_id FROM http_request WHERE response_time_msec > 880)
SELECT c.code FROM countries c WHERE c.code IN (SELECT request_country FROM http_request)
SELECT c.code FROM countries c WHERE NOT EXISTS (SELECT 1 FROM http_request h WHERE h.request_country = c.code)
SELECT k.id, l.w FROM kinds k, LATERAL (SELECT k2.w FROM kinds2 k2 WHERE k2.id = k.id LIMIT 1) l
SELECT k.id, l.n FROM kinds k LEFT JOIN LATERAL (SELECT count(*) AS n FROM sites s WHERE s.site_id < k.i2) l ON true WHERE k.id < 30
SELECT s.site_id, l.c FROM sites s CROSS JOIN LATERAL (SELECT count(*) AS c FROM http_request h WHERE h.site_id = s.site_id) l
SELECT k.id, l.x FROM kinds k, LATERAL unnest(k.arr) AS l(x) WHERE k.id < 20
SELECT a.id, b.id FROM kinds a JOIN kinds b ON a.id = b.id + 6 WHERE a.id < 50
SELECT a.site_id, count(*) FROM http_request a JOIN http_request_1min b ON a.site_id = b.site_id AND date_trunc('minute', a.ingest_time) = b.ingest_time GROUP BY 1
SELECT h.site_id, s.name, c.name FROM http_request h JOIN sites s USING (site_id) LEFT JOIN countries c ON c.code = s.country WHERE h.status_code = 201
SELECT k.id, k2.w, s.name FROM kinds k JOIN kinds2 k2 USING (id) JOIN sites s ON s.site_id = k2.w
SELECT * FROM (SELECT k.id, k.i4 FROM kinds k ORDER BY k.i4 DESC NULLS LAST, k.id LIMIT 20) s WHERE s.i4 % 2 = 0
SELECT x.g, x.c FROM (SELECT k.i2 % 4 AS g, count(*) AS c FROM kinds k GROUP BY 1) x WHERE x.c > 70
SELECT x.site_id, x.n FROM (SELECT site_id, count(*) AS n FROM http_request GROUP BY site_id) x JOIN sites s USING (site_id) WHERE s.country IS NOT NULL
SELECT k.id, (SELECT max(w) FROM kinds2 k2 WHERE k2.id = k.id) FROM kinds k WHERE k.id < 50
SELECT k.id, (SELECT count(*) FROM http_request h WHERE h.site_id = k.i2) FROM kinds k WHERE k.id < 30
SELECT s.site_id, (SELECT count(*) FROM http_request h WHERE h.site_id = s.site_id) FROM sites s
SELECT (SELECT count(*) FROM kinds), (SELECT count(*) FROM kinds2), (SELECT max(ingest_time) FROM http_request)
SELECT k.id FROM kinds k WHERE k.i4 > (SELECT avg(i4) FROM kinds)
SELECT k.id FROM kinds k WHERE k.i4 = (SELECT max(i4) FROM kinds k3 WHERE k3.b = k.b)
SELECT count(*) FROM kinds k WHERE k.id < ALL (SELECT k2.id FROM kinds2 k2 WHERE k2.w = 6)
SELECT count(*) FROM kinds k WHERE k.id = ANY (SELECT k2.id + 1 FROM kinds2 k2)
WITH c AS (SELECT k.id, k.i4 FROM kinds k WHERE k.b) SELECT count(*), sum(i4) FROM c
WITH c AS MATERIALIZED (SELECT k.id, k.i4 FROM kinds k WHERE k.i4 > 0) SELECT count(*), min(id) FROM c
WITH c AS NOT MATERIALIZED (SELECT k.id, k.i4 FROM kinds k) SELECT id FROM c WHERE id = 42
WITH c AS (SELECT site_id, count(*) AS n FROM http_request GROUP BY 1) SELECT a.site_id, a.n, b.n FROM c a JOIN c b ON a.site_id = b.site_id + 1
WITH c AS (SELECT * FROM countries) SELECT h.site_id, c.name FROM http_request h JOIN c ON c.code = h.request_country WHERE h.site_id = 7
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT k.id FROM kinds k JOIN r ON k.id = r.n
WITH RECURSIVE r(n, p) AS (SELECT * FROM (VALUES (1, 0), (7, 0)) v UNION ALL SELECT n * 2, n FROM r WHERE n < 100) SELECT r.n, r.p, k.t FROM r LEFT JOIN kinds k ON k.id = r.n
WITH RECURSIVE r(s) AS (VALUES (0) UNION ALL SELECT s + 1 FROM r WHERE s < 15) SELECT r.s, count(h.url) FROM r LEFT JOIN http_request h ON h.site_id = r.s GROUP BY r.s
WITH w AS (SELECT id FROM kinds2 WHERE w = 1), v AS (SELECT k.id FROM kinds k JOIN w USING (id)) SELECT count(*) FROM v
SELECT k.id, row_number() OVER (PARTITION BY k.i2 % 3 ORDER BY k.id) FROM kinds k WHERE k.id < 60
SELECT k.i2 % 3, rank() OVER (PARTITION BY k.i2 % 3 ORDER BY k.f8 DESC) FROM kinds k
SELECT k.id, dense_rank() OVER (ORDER BY k.vc), percent_rank() OVER (ORDER BY k.vc), cume_dist() OVER (ORDER BY k.vc) FROM kinds k
SELECT k.id, ntile(4) OVER (ORDER BY k.id) FROM kinds k
SELECT k.id, lag(k.t) OVER w, lead(k.t, 2, 'none') OVER w FROM kinds k WINDOW w AS (ORDER BY k.id)
SELECT k.id, first_value(k.t) OVER w, last_value(k.t) OVER w, nth_value(k.t, 3) OVER w FROM kinds k WINDOW w AS (PARTITION BY k.b ORDER BY k.id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
SELECT k.id, sum(k.i4) OVER (ORDER BY k.id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM kinds k
SELECT k.id, sum(k.i4) OVER (ORDER BY k.i2 RANGE BETWEEN 5 PRECEDING AND 5 FOLLOWING) FROM kinds k
SELECT k.id, count(*) OVER (ORDER BY k.i2 % 10 GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW EXCLUDE TIES) FROM kinds k
SELECT k.id, max(k.d) OVER (ORDER BY k.id ROWS BETWEEN 3 PRECEDING AND 3 FOLLOWING EXCLUDE CURRENT ROW) FROM kinds k
SELECT k.id, sum(k.iv) OVER (ORDER BY k.ts RANGE BETWEEN interval '1 day' PRECEDING AND CURRENT ROW) FROM kinds k
SELECT k.id, avg(k.n) OVER (PARTITION BY k.id) FROM kinds k
SELECT site_id, count(*), rank() OVER (ORDER BY count(*) DESC, site_id) FROM http_request GROUP BY site_id
SELECT site_id, ingest_time, row_number() OVER (PARTITION BY site_id ORDER BY ingest_time) FROM http_request
SELECT * FROM (SELECT k.id, row_number() OVER (ORDER BY k.i4 NULLS FIRST, k.id) AS rn FROM kinds k) x WHERE x.rn <= 5
SELECT k.id, sum(k.f8) OVER (ORDER BY k.id) FROM kinds k -- approx
SELECT k.id, k.t FROM kinds k ORDER BY k.t NULLS FIRST, k.id LIMIT 10 OFFSET 5 -- ordered
SELECT k.id FROM kinds k ORDER BY k.id DESC OFFSET 290 -- ordered
SELECT k.id FROM kinds k ORDER BY k.id OFFSET 1000 -- ordered
SELECT k.id FROM kinds k ORDER BY k.id LIMIT ALL -- ordered
SELECT k.id FROM kinds k ORDER BY k.id LIMIT NULL OFFSET 295 -- ordered
SELECT k.id FROM kinds k ORDER BY k.id LIMIT 0 -- ordered
SELECT k.id FROM kinds k ORDER BY k.id LIMIT (SELECT 3) OFFSET (SELECT 2) -- ordered
SELECT k.id, k.i2 % 5 FROM kinds k ORDER BY k.i2 % 5 NULLS FIRST FETCH FIRST 3 ROWS WITH TIES
SELECT k.id FROM kinds k ORDER BY k.id OFFSET 3 ROWS FETCH NEXT 4 ROWS ONLY -- ordered
SELECT k.id, k.f8 FROM kinds k ORDER BY k.f8 DESC NULLS LAST, k.id LIMIT 7 -- ordered
SELECT k.id, k.tz FROM kinds k ORDER BY k.tz, k.id LIMIT 5 -- ordered
SELECT k.id, k.d FROM kinds k ORDER BY k.d DESC, k.id LIMIT 5 -- ordered
SELECT site_id, count(*) FROM http_request GROUP BY site_id ORDER BY 2 DESC, 1 LIMIT 4 -- ordered
SELECT site_id, count(*) FROM http_request GROUP BY site_id ORDER BY 2 DESC, 1 LIMIT 4 OFFSET 10 -- ordered
SELECT h.site_id, h.url FROM http_request h ORDER BY h.ingest_time DESC LIMIT 5 -- ordered
SELECT x.id FROM (SELECT k.id FROM kinds k ORDER BY k.id LIMIT 10) x JOIN kinds2 k2 USING (id)
SELECT count(*) FROM (SELECT 1 FROM kinds k LIMIT 1000) x
SELECT k.id FROM kinds k UNION SELECT k2.id FROM kinds2 k2
SELECT k.id FROM kinds k UNION ALL SELECT k2.id FROM kinds2 k2
SELECT k.id FROM kinds k INTERSECT SELECT k2.id FROM kinds2 k2
SELECT k.i2 FROM kinds k INTERSECT ALL SELECT k2.w FROM kinds2 k2
SELECT k.id FROM kinds k EXCEPT SELECT k2.id FROM kinds2 k2
SELECT k.i2 % 4 FROM kinds k EXCEPT ALL SELECT k2.w FROM kinds2 k2
SELECT request_country FROM http_request UNION SELECT code FROM countries
SELECT code FROM countries EXCEPT SELECT request_country FROM http_request
SELECT site_id FROM sites INTERSECT SELECT site_id FROM http_request
(SELECT k.id FROM kinds k WHERE k.b UNION SELECT k2.id FROM kinds2 k2) EXCEPT (SELECT id FROM kinds WHERE id % 3 = 0)
SELECT k.id FROM kinds k UNION SELECT k2.id FROM kinds2 k2 ORDER BY 1 DESC LIMIT 6 -- ordered
SELECT count(*) FROM (SELECT t FROM kinds UNION ALL SELECT label FROM kinds2 UNION ALL SELECT name FROM countries) u
SELECT 1 FROM kinds k WHERE false
SELECT count(*), sum(k.i4), max(k.t), avg(k.n) FROM kinds k WHERE k.id < 0
SELECT count(*) FROM kinds k WHERE k.id = ANY (ARRAY[]::bigint[])
SELECT k.id FROM kinds k WHERE k.id = 5 OR k.id = 500
SELECT k.id FROM kinds k WHERE k.id IN (2, 4, NULL)
SELECT k.id, k.t FROM kinds k WHERE k.id = 302
SELECT * FROM kinds k WHERE k.id IN (301, 302, 303)
SELECT * FROM kinds k WHERE k.id BETWEEN 10 AND 14
SELECT * FROM kinds2
SELECT * FROM http_request_1min
SELECT k FROM kinds k WHERE k.id < 8
SELECT k.*, k2.* FROM kinds k JOIN kinds2 k2 USING (id) WHERE k.id < 12
SELECT count(*) FROM kinds k TABLESAMPLE SYSTEM (100) REPEATABLE (1)
SELECT max(k.id) FROM kinds k WHERE k.id IN (SELECT id FROM kinds ORDER BY id LIMIT 5)
SELECT site_id, array_agg(DISTINCT status_code ORDER BY status_code) FROM http_request GROUP BY site_id
SELECT string_agg(DISTINCT request_country, ',' ORDER BY request_country) FROM http_request
VALUES (1, 'a'), (2, NULL)
SELECT count(*) FROM kinds k, kinds2 k2 WHERE k.id = k2.id AND k.i2 = k2.w
"""

# Writes: (write, read of what it wrote), run in one transaction that is then rolled back.
WRITES = r"""
INSERT INTO kinds (id, i2, i4, t, d, tz, iv, f8, bt) VALUES (1001, 1, 2, 'w1', '2024-05-06', '2024-05-06 07:08+02', '1 day 2 hours', 1.5, '\x0102'), (1002, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) RETURNING *
||| SELECT * FROM kinds WHERE id > 1000
INSERT INTO kinds (id, t, d, ts) VALUES (1003, '03/04/2024', '03/04/2024', '03/04/2024 05:06') RETURNING id, t, d, ts
||| SELECT id, t, d, ts FROM kinds WHERE id > 1000
INSERT INTO kinds (id, t, d, iv) SELECT id + 2000, t || '!', d + 1, iv * 2 FROM kinds WHERE id % 10 = 0 RETURNING id, t, d, iv
||| SELECT count(*), sum(id), max(t), min(d) FROM kinds
INSERT INTO kinds2 (id, w, label, d) SELECT k.id, k.i2, k.t, k.d FROM kinds k WHERE k.id % 2 = 1 AND k.id < 60 RETURNING *
||| SELECT * FROM kinds2
INSERT INTO kinds2 (id, w, label, d) SELECT k.id * 10, k.i2 % 7, k.t::text || k.d, k.d FROM kinds k WHERE k.id < 20
||| SELECT * FROM kinds2 WHERE id >= 10
INSERT INTO kinds2 SELECT s.site_id + 5000, s.site_id, c.name, NULL FROM sites s JOIN countries c ON c.code = s.country RETURNING id, label
||| SELECT * FROM kinds2 WHERE id > 5000
INSERT INTO http_request_1min SELECT site_id, date_trunc('minute', ingest_time), 0, count(*), count(*), 0 FROM http_request WHERE site_id = 4 GROUP BY 1, 2 ON CONFLICT DO NOTHING
||| SELECT count(*), sum(request_count) FROM http_request_1min
INSERT INTO sites VALUES (3, 'dup', 'XX'), (100, 'new', NULL) ON CONFLICT (site_id) DO UPDATE SET name = excluded.name || sites.name RETURNING *
||| SELECT * FROM sites
INSERT INTO sites VALUES (3, 'dup', 'XX') ON CONFLICT (site_id) DO NOTHING RETURNING *
||| SELECT * FROM sites
UPDATE kinds SET t = d::text WHERE id < 10 RETURNING id, t
||| SELECT id, t FROM kinds WHERE id < 12
UPDATE kinds SET t = tz::text || '/' || iv::text || '/' || f8::text WHERE id % 40 = 1 RETURNING id, t
||| SELECT id, t FROM kinds WHERE id % 40 = 1
UPDATE kinds SET d = ('0' || (id % 9 + 1) || '/1' || (id % 3) || '/2024')::date WHERE id BETWEEN 20 AND 30 RETURNING id, d
||| SELECT id, d FROM kinds WHERE id BETWEEN 20 AND 30
UPDATE kinds SET i4 = i4 * 2, n = n + 1, iv = iv + interval '1 hour' WHERE b RETURNING id, i4, n, iv
||| SELECT sum(i4), sum(n), max(iv) FROM kinds
UPDATE kinds SET words = to_tsvector(words)::text WHERE id < 6 RETURNING id, words
||| SELECT id, words FROM kinds WHERE id < 6
UPDATE kinds SET tz = tz + interval '1 day', ts = tz::timestamp WHERE id % 50 = 7 RETURNING id, tz, ts
||| SELECT id, tz, ts FROM kinds WHERE id % 50 = 7
UPDATE kinds2 SET label = NULL WHERE w = 3 RETURNING id
||| SELECT count(*) FROM kinds2 WHERE label IS NULL
UPDATE http_request SET response_time_msec = response_time_msec + 1 WHERE site_id = 5 AND status_code = 404
||| SELECT sum(response_time_msec) FROM http_request
UPDATE kinds SET i2 = (SELECT max(w) FROM kinds2) WHERE id = 1
||| SELECT i2 FROM kinds WHERE id = 1
DELETE FROM kinds WHERE id % 7 = 3 RETURNING id, t, d
||| SELECT count(*), sum(id) FROM kinds
DELETE FROM kinds2 WHERE label IS NULL RETURNING *
||| SELECT count(*) FROM kinds2
DELETE FROM http_request WHERE site_id = 2 RETURNING site_id, url, ingest_time
||| SELECT count(*) FROM http_request
DELETE FROM kinds WHERE id IN (SELECT id FROM kinds2 WHERE w = 2)
||| SELECT count(*) FROM kinds
DELETE FROM kinds WHERE false RETURNING *
||| SELECT count(*) FROM kinds
"""


def fixed_statements():
    out = []
    for line in FIXED.strip().splitlines():
        line = line.strip()
        if not line:
            continue
        flags = set()
        while True:
            m = re.search(r"\s+--\s*(ordered|approx)\s*$", line)
            if not m:
                break
            flags.add(m.group(1))
            line = line[:m.start()]
        out.append(dict(sql=line, ordered="ordered" in flags, approx="approx" in flags, kind="fixed"))
    return out


def write_statements():
    out = []
    for line in WRITES.strip().splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("|||"):
            out[-1]["check"] = line[3:].strip()
        else:
            out.append(dict(sql=line, ordered=False, approx=False, kind="write", check=None))
    return out


# ---------------------------------------------------------------------------------------------
# Probing the server (loc schema, PostgreSQL's default settings)
# ---------------------------------------------------------------------------------------------
def probe_connect():
    return psycopg.connect(host="127.0.0.1", port=PORT, user="differ", dbname="postgres",
                           options="-c search_path=loc", autocommit=True)


def probe(conn, sql):
    """(result type oid, None) or (None, error message)."""
    try:
        cur = conn.execute(sql)
        return cur.description[0].type_code if cur.description else None, None
    except psycopg.Error as e:
        return None, (e.diag.message_primary or str(e)).strip()


FLOAT_TYPES = {700, 701}


def expression_statements(conn, rng, problems):
    out = []
    for e in expression_list():
        oid, err = probe(conn, "SELECT (%s) FROM kinds k LIMIT 0" % e)
        if err:
            problems.append("expression does not parse on loc: %s: %s" % (e, err))
            continue
        orderable = probe(conn, "SELECT (%s) AS e FROM kinds k ORDER BY 1 LIMIT 0" % e)[1] is None
        groupable = probe(conn, "SELECT (%s) AS e FROM kinds k GROUP BY 1 LIMIT 0" % e)[1] is None
        in_where = probe(conn, "SELECT 1 FROM kinds k WHERE (%s) IS NULL LIMIT 0" % e)[1] is None
        out.append(dict(sql="SELECT k.id, %s AS e FROM kinds k" % e, kind="expr/projection"))
        if probe(conn, "SELECT k.id, %s AS e FROM kinds k" % e)[1] is not None:
            # an edge row (NaN, infinity, BC, ...) makes it fail on both sides: also compare it
            # over the ordinary rows
            out.append(dict(sql="SELECT k.id, %s AS e FROM kinds k WHERE k.id <= 300" % e,
                            kind="expr/projection-ordinary-rows"))
        if oid == 16:
            out.append(dict(sql="SELECT k.id FROM kinds k WHERE %s" % e, kind="expr/where"))
            if rng.random() < 0.5:
                out.append(dict(sql="SELECT count(*) FROM kinds k WHERE NOT (%s)" % e, kind="expr/where-not"))
        elif in_where:
            out.append(dict(sql="SELECT count(*) FROM kinds k WHERE (%s) IS NULL" % e, kind="expr/is-null"))
        if groupable and rng.random() < 0.5:
            out.append(dict(sql="SELECT %s AS e, count(*) FROM kinds k GROUP BY 1" % e, kind="expr/group-by"))
        if orderable and rng.random() < 0.4:
            out.append(dict(sql="SELECT k.id, %s AS e FROM kinds k ORDER BY 2 NULLS FIRST, 1 LIMIT 9 OFFSET %d"
                            % (e, rng.randrange(0, 6)), kind="expr/order-limit", ordered=True))
    return out


def composed_statements(conn, rng, count):
    """Seeded compositions: two expressions and two predicates in one statement."""
    exprs, preds = [], []
    for e in expression_list():
        oid, err = probe(conn, "SELECT (%s) FROM kinds k LIMIT 0" % e)
        if err or "SELECT" in e or "CURRENT" in e:
            continue
        (preds if oid == 16 else exprs).append(e)
    out = []
    for i in range(count):
        e1, e2 = rng.choice(exprs), rng.choice(exprs)
        p1, p2 = rng.choice(preds), rng.choice(preds)
        form = i % 4
        if form == 0:
            sql = "SELECT k.id, CASE WHEN %s THEN (%s)::text ELSE (%s)::text END FROM kinds k WHERE (%s) IS NOT FALSE" % (
                p1, e1, e2, p2)
        elif form == 1:
            sql = "SELECT (%s)::text AS a, count(*) FROM kinds k WHERE (%s) OR (%s) GROUP BY 1" % (e1, p1, p2)
        elif form == 2:
            sql = "SELECT k.id, COALESCE((%s)::text, (%s)::text) FROM kinds k JOIN kinds2 k2 USING (id) WHERE NOT (%s)" % (
                e1, e2, p1)
        else:
            sql = "SELECT k.id, (%s)::text, (%s)::text FROM kinds k WHERE (%s) AND k.id %% %d = %d" % (
                e1, e2, p1, rng.randrange(2, 5), rng.randrange(0, 2))
        if probe(conn, sql + " LIMIT 0")[1] is None:
            out.append(dict(sql=sql, kind="composed"))
    return out


# Aggregates whose result depends on the order of their input: they get ORDER BY inside.
ORDER_AGGS = {"array_agg", "string_agg", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg", "xmlagg"}
POLY_SCALAR = {2283, 2776, 5077, 5079}   # anyelement, anynonarray, anycompatible, anycompatiblenonarray
POLY_ARRAY = {2277, 5078}                # anyarray, anycompatiblearray
POLY_RANGE = {3831, 5080}                # anyrange, anycompatiblerange
ANY = 2276
FLOAT8 = 701


def aggregate_statements(conn, rng, problems, skipped):
    cols = conn.execute("""SELECT attname, atttypid::int, t.typcategory, t.typelem::int <> 0
                             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                            WHERE attrelid = 'loc.kinds'::regclass AND attnum > 0 AND NOT attisdropped
                            ORDER BY attnum""").fetchall()
    by_type = collections.defaultdict(list)
    scalars, arrays, ranges = [], [], []
    for name, typ, cat, is_array in cols:
        by_type[typ].append("k." + name)
        if cat == "A":
            arrays.append("k." + name)
        elif cat == "R":
            ranges.append("k." + name)
        else:
            scalars.append("k." + name)
    # second arguments of the same type: a derived expression, so that two-argument aggregates do
    # not always get one column twice
    extra = {FLOAT8: ["(k.i4 / 7.0)::float8"], 20: ["k.i8 % 1000"], 23: ["k.i2::int"], 1700: ["k.i4::numeric"]}
    aggs = conn.execute("""SELECT p.oid::regprocedure::text, p.proname, a.aggkind, a.aggnumdirectargs,
                                  p.proargtypes::oid[]::int[], p.provariadic::int
                             FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
                            WHERE p.pronamespace = 'pg_catalog'::regnamespace
                            ORDER BY 1""").fetchall()
    out = []
    for sig, name, kind, ndirect, argtypes, variadic in aggs:
        argtypes = list(argtypes or [])
        direct, agg_args = argtypes[:ndirect], argtypes[ndirect:]
        if kind == "h":
            # rank(VARIADIC "any") WITHIN GROUP (ORDER BY VARIADIC "any")
            col = rng.choice(["k.i4", "k.t", "k.d", "k.n"])
            const = {"k.i4": "500", "k.t": "'t5'", "k.d": "'2024-03-01'", "k.n": "0"}[col]
            calls = ["%s(%s) WITHIN GROUP (ORDER BY %s)" % (name, const, col)]
            approx = False
        else:
            chosen = []
            ok = True
            for i, t in enumerate(agg_args):
                if t == ANY:
                    cand = ["k.id"] if i == 0 else scalars
                elif t in POLY_SCALAR:
                    cand = [c for c in scalars if c not in ("k.x", "k.js")] if kind != "o" else \
                        ["k.i4", "k.t", "k.d", "k.ts", "k.n", "k.iv"]
                elif t in POLY_ARRAY:
                    cand = arrays
                elif t in POLY_RANGE:
                    cand = ranges
                else:
                    cand = by_type.get(t, []) + (extra.get(t, []) if i > 0 else [])
                    if i > 0 and t == agg_args[0] and len(cand) > 1 and chosen[0] in cand:
                        cand = [c for c in cand if c != chosen[0]]
                if not cand:
                    ok = False
                    break
                chosen.append(rng.choice(cand))
            if not ok:
                skipped.append(sig)
                continue
            if name == "string_agg":
                chosen[1] = "','" if agg_args[1] == 25 else "'\\x2c'::bytea"
            if name in ("json_object_agg", "jsonb_object_agg"):
                chosen[0] = "k.id"
            approx = any(t in FLOAT_TYPES for t in agg_args) or (
                name in ("avg", "sum", "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp")
                and any(c in ("k.f8", "k.f4") for c in chosen))
            args = ", ".join(chosen) if agg_args else ("*" if name == "count" else "")
            if kind == "o":
                dargs = []
                for t in direct:
                    dargs.append({FLOAT8: "0.5", 1022: "ARRAY[0.25, 0.5, 0.9]"}.get(t, "0.5"))
                order = args if args else rng.choice(["k.i4", "k.t", "k.d"])
                calls = ["%s(%s) WITHIN GROUP (ORDER BY %s)" % (name, ", ".join(dargs), order)]
                approx = approx or name == "percentile_cont"
            elif name in ORDER_AGGS:
                key = chosen[0] if chosen else "k.id"
                if probe(conn, "SELECT 1 FROM kinds k ORDER BY %s LIMIT 0" % key)[1] is not None:
                    key = "k.id"  # xml, json: no ordering operator
                calls = ["%s(%s ORDER BY %s, k.id)" % (name, args, key)]
                if name == "array_agg" and agg_args and agg_args[0] in POLY_ARRAY:
                    calls = ["%s(%s ORDER BY k.id) FILTER (WHERE cardinality(%s) = 3)" % (name, args, args)]
            else:
                calls = ["%s(%s)" % (name, args)]
                if len(agg_args) == 1 and agg_args[0] != ANY and rng.random() < 0.4:
                    calls.append("%s(DISTINCT %s)" % (name, args))
                if rng.random() < 0.4:
                    calls.append("%s(%s) FILTER (WHERE k.b)" % (name, args))
        for call in calls:
            shapes = [("SELECT %s FROM kinds k" % call, "agg/all"),
                      ("SELECT %s FROM kinds k WHERE k.id < 0" % call, "agg/empty")]
            if rng.random() < 0.5:
                shapes.append(("SELECT k.id %% 4 AS g, %s FROM kinds k GROUP BY 1" % call, "agg/group"))
            else:
                shapes.append(("SELECT k.id, %s FROM kinds k WHERE k.id %% 10 = 3 GROUP BY k.id" % call,
                               "agg/group-dist"))
            if rng.random() < 0.3:
                shapes.append(("SELECT k.i2 %% 3 AS g, %s FROM kinds k GROUP BY 1 HAVING count(*) > 10" % call,
                               "agg/having"))
            for sql, what in shapes:
                err = probe(conn, sql + " LIMIT 0")[1]
                if err:
                    problems.append("aggregate statement does not parse on loc: %s: %s" % (sql, err))
                    continue
                out.append(dict(sql=sql, kind=what, approx=approx))
    return out


def build_corpus():
    rng = random.Random(SEED)
    problems, skipped = [], []
    conn = probe_connect()
    corpus = expression_statements(conn, rng, problems)
    corpus += composed_statements(conn, rng, 80)
    corpus += aggregate_statements(conn, rng, problems, skipped)
    corpus += fixed_statements()
    corpus += write_statements()
    conn.close()
    for s in corpus:
        s.setdefault("ordered", False)
        s.setdefault("approx", False)
        s.setdefault("check", None)
    seen, unique = set(), []
    for s in corpus:
        if s["sql"] not in seen:
            seen.add(s["sql"])
            unique.append(s)
    return unique, problems, skipped


# ---------------------------------------------------------------------------------------------
# Running and comparing
# ---------------------------------------------------------------------------------------------
class AsText(Loader):
    def load(self, data):
        return bytes(data).decode("utf-8", "replace")


class Outcome:
    def __init__(self, rows=None, tag=None, types=None, state=None, msg=None):
        self.rows, self.tag, self.types, self.state, self.msg = rows, tag, types, state, msg


class Side:
    def __init__(self, schema, options):
        self.schema, self.options, self.conn = schema, options, None

    def connect(self):
        if self.conn is not None:
            self.conn.close()
        for _ in range(240):
            try:
                self.conn = psycopg.connect(
                    host="127.0.0.1", port=PORT, user="differ", dbname="postgres", prepare_threshold=None,
                    options="-c search_path=%s -c statement_timeout=%d %s" % (self.schema, TIMEOUT_MS, self.options))
                break
            except psycopg.OperationalError:
                time.sleep(0.5)
        else:
            sys.exit("FAIL: cannot connect to the coordinator any more")
        for (oid,) in self.conn.execute("SELECT oid FROM pg_type").fetchall():
            self.conn.adapters.register_loader(oid, AsText)
        self.conn.rollback()

    def run(self, stmt):
        """Outcomes of the statement (and of its check query), in one transaction rolled back."""
        if self.conn is None or self.conn.broken or self.conn.closed:
            self.connect()
        conn = self.conn
        timer = threading.Timer(CLIENT_TIMEOUT, conn.cancel)
        timer.start()
        results = []
        try:
            for sql in [stmt["sql"]] + ([stmt["check"]] if stmt["check"] else []):
                cur = conn.execute(sql)
                rows = cur.fetchall() if cur.description is not None else []
                types = [d.type_code for d in cur.description] if cur.description else []
                results.append(Outcome(rows=[tuple(r) for r in rows], tag=cur.statusmessage, types=types))
            return results
        except psycopg.Error as e:
            if conn.broken or conn.closed:
                return [Outcome(state="CONNECTION LOST", msg=(str(e).strip() or "?").splitlines()[0])]
            if not timer.is_alive():
                return [Outcome(state="HANG", msg="not cancelled by statement_timeout within %.0f s" % CLIENT_TIMEOUT)]
            return [Outcome(state=e.sqlstate or "?????", msg=e.diag.message_primary or str(e))]
        finally:
            timer.cancel()
            if not conn.broken and not conn.closed:
                try:
                    conn.rollback()
                except psycopg.Error:
                    pass


def cell(v):
    return "\\N" if v is None else v


def normalize(o, ordered, approx):
    """Rows as comparable tuples: text, or for float columns of approx statements, floats."""
    fl = [approx and t in FLOAT_TYPES for t in o.types]

    def conv(r):
        return tuple((float(v) if (f and v is not None) else cell(v)) for v, f in zip(r, fl))

    rows = [conv(r) for r in o.rows]
    if not ordered:
        rows.sort(key=lambda r: tuple((1, "", x) if isinstance(x, float) else (0, x, 0.0) for x in r))
    return rows, fl


def close(a, b, tol):
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= tol * max(1.0, abs(a), abs(b))
    return a == b


def same(d, l, ordered, approx):
    if d.tag != l.tag:
        return False
    dr, fl = normalize(d, ordered, approx)
    lr, _ = normalize(l, ordered, approx)
    if len(dr) != len(lr):
        return False
    if not any(fl):
        return dr == lr
    tols = [1e-4 if t == 700 else 1e-9 for t in d.types]
    return all(len(x) == len(y) and all(close(a, b, t) for a, b, t in zip(x, y, tols)) for x, y in zip(dr, lr))


CRASH = re.compile(r"terminated by signal|was terminated by exception|TRAP:|PANIC:|"
                   r"server process .* exited with exit code [1-9]")
log_pos = {l: os.path.getsize(l) for l in LOGS}


def new_crashes():
    found = []
    for l in LOGS:
        with open(l, "rb") as f:
            f.seek(log_pos[l])
            text = f.read().decode("utf-8", "replace")
            log_pos[l] = f.tell()
        found += ["%s: %s" % (os.path.basename(l), x) for x in text.splitlines() if CRASH.search(x)]
    return found


def show(rows):
    return "\n      ".join(" | ".join(cell(v) for v in r) for r in rows[:SHOW]) or "-"


XML_DECLARATION = '<?xml version="1.0"?>'


def without_xml_declaration(out):
    """out with a leading plain version-1.0 XML declaration dropped from every text value (the one
    documented difference of xml values: docs/limitations.md)."""
    def strip(v):
        return v[len(XML_DECLARATION):] if isinstance(v, str) and v.startswith(XML_DECLARATION) else v
    if out.rows is None:
        return out
    return Outcome(rows=[tuple(strip(v) for v in r) for r in out.rows], tag=out.tag, types=out.types,
                   state=out.state, msg=out.msg)


def describe(outs):
    if outs[-1].state:
        return "%s %s" % (outs[-1].state, outs[-1].msg)
    return "; ".join("%d rows (%s)" % (len(o.rows), o.tag) for o in outs)


def main():
    started = time.time()
    corpus, problems, skipped = build_corpus()
    kinds = collections.Counter(s["kind"].split("/")[0] for s in corpus)
    print("corpus: %d statements (%s); seed %d; generated in %.1f s" % (
        len(corpus), ", ".join("%s %d" % kv for kv in sorted(kinds.items())), SEED, time.time() - started))
    print("corpus: aggregates of pg_catalog with no argument type among kinds' columns, left out: %d (%s)"
          % (len(skipped), ", ".join(sorted(set(re.sub(r"\(.*", "", s) for s in skipped)))))
    if CORPUS_OUT:
        with open(CORPUS_OUT, "w") as f:
            for s in corpus:
                f.write("-- %s%s%s\n%s;\n" % (s["kind"], " ordered" if s["ordered"] else "",
                                              " approx" if s["approx"] else "", s["sql"]))
                if s["check"]:
                    f.write("-- then, in the same transaction:\n%s;\n" % s["check"])
    failures = []
    for p in problems:
        failures.append("CORPUS: " + p)
    detail = open(DETAIL, "w") if DETAIL else None
    totals = collections.Counter()
    refusals = collections.Counter()
    for profile in PROFILE_NAMES:
        t0 = time.time()
        sides = {"dist": Side("dist", PROFILES[profile]), "loc": Side("loc", PROFILES[profile])}
        n = collections.Counter()
        for i, stmt in enumerate(corpus, 1):
            res = {}
            for name in ("dist", "loc"):
                res[name] = sides[name].run(stmt)
                crashed = new_crashes()
                if crashed:
                    failures.append("CRASH [%s] statement %d on %s:\n    %s;\n    %s" % (
                        profile, i, name, stmt["sql"], "\n    ".join(crashed[:6])))
                    for s in sides.values():
                        s.connect()
                    new_crashes()
            d, l = res["dist"], res["loc"]
            if detail:
                detail.write("-- [%s] %d %s: dist %s / loc %s\n%s;\n" % (
                    profile, i, stmt["kind"], describe(d), describe(l), stmt["sql"]))
            ds, ls = d[-1].state, l[-1].state
            for state, side in ((ds, "dist"), (ls, "loc")):
                if state in ("HANG", "CONNECTION LOST"):
                    failures.append("%s [%s] on %s, statement %d:\n    %s;" % (state, profile, side, i, stmt["sql"]))
            if ds is None and ls is None:
                n["compared"] += 1
                if len(d) == len(l) and all(same(x, y, stmt["ordered"], stmt["approx"]) for x, y in zip(d, l)):
                    n["equal"] += 1
                    continue
                if len(d) == len(l) and all(same(x, without_xml_declaration(y), stmt["ordered"], stmt["approx"])
                                            for x, y in zip(d, l)):
                    # docs/limitations.md: an xml value read through the coordinator has passed the
                    # node's xml_out, which drops a plain version-1.0 declaration. Counted, not failed.
                    n["xml_declaration"] += 1
                    continue
                n["different"] += 1
                parts = []
                for k, (x, y) in enumerate(zip(d, l)):
                    xr, yr = sorted(x.rows, key=str), sorted(y.rows, key=str)
                    only_d = list((collections.Counter(xr) - collections.Counter(yr)).elements())
                    only_l = list((collections.Counter(yr) - collections.Counter(xr)).elements())
                    parts.append("%s: dist %d rows (%s), loc %d rows (%s)%s\n    only in dist (%d):\n      %s\n"
                                 "    only in loc (%d):\n      %s" % (
                                     "statement" if k == 0 else "check query", len(x.rows), x.tag, len(y.rows),
                                     y.tag, ", order differs" if stmt["ordered"] and not only_d and not only_l else "",
                                     len(only_d), show(only_d), len(only_l), show(only_l)))
                failures.append("DIFFERENCE [%s] statement %d (%s):\n    %s;%s\n    %s" % (
                    profile, i, stmt["kind"], stmt["sql"],
                    ("\n    then: %s;" % stmt["check"]) if stmt["check"] else "", "\n    ".join(parts)))
            elif ds and ls:
                if ds == ls:
                    n["both_error"] += 1
                else:
                    n["different"] += 1
                    failures.append("DIFFERENT ERRORS [%s] statement %d: dist %s %s / loc %s %s\n    %s;" % (
                        profile, i, ds, d[-1].msg, ls, l[-1].msg, stmt["sql"]))
            elif ds == "0A000":
                n["refused"] += 1
                refusals[re.sub(r'"[^"]*"', '"..."', d[-1].msg)] += 1
            elif ds:
                n["dist_only_error"] += 1
                failures.append("DIST-ONLY ERROR [%s] statement %d: %s %s (loc: %s)\n    %s;" % (
                    profile, i, ds, d[-1].msg, describe(l), stmt["sql"]))
            else:
                n["loc_only_error"] += 1
                failures.append("LOCAL-ONLY ERROR [%s] statement %d: %s %s (dist: %s)\n    %s;" % (
                    profile, i, ls, l[-1].msg, describe(d), stmt["sql"]))
        for s in sides.values():
            if s.conn is not None:
                s.conn.close()
        totals.update(n)
        print("profile %-8s %d statements: %d compared (%d equal), %d different, %d failed on both sides alike, "
              "%d refused on dist (0A000), %d documented xml declaration differences, %d dist-only errors, "
              "%d local-only errors; %.0f s" % (
                  profile, len(corpus), n["compared"], n["equal"], n["different"], n["both_error"], n["refused"],
                  n["xml_declaration"],
                  n["dist_only_error"], n["loc_only_error"], time.time() - t0))
    if detail:
        detail.close()
    for count, m in sorted(((c, m) for m, c in refusals.items()), reverse=True):
        print("known refusal (dist only, 0A000) x%d: %s" % (count, m))
    for f in failures:
        print("==== FAIL: " + f)
    print("summary: %d statements x %d profiles; %d compared, %d equal; %d failures; %.0f s" % (
        len(corpus), len(PROFILE_NAMES), totals["compared"], totals["equal"], len(failures), time.time() - started))
    sys.exit(1 if failures else 0)


main()
