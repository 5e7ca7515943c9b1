#!/usr/bin/env bash
# Native rollups under random interleavings (issue 11): a seeded, bounded differential test. The
# engine promises exact targets whatever the interleaving of writes, backfills, expiry and runs;
# hand-written tests only cover the orders someone thought of, so this one draws them at random and
# compares every level with a from-scratch GROUP BY after every step. A
# generator (python3, random.Random(SEED)) writes a list of statements: inserts (VALUES, generate_series,
# COPY, INSERT ... SELECT between co-located tables) at random times, most of them backfills below the
# frontier, some exactly on bucket boundaries, some in a fixed future window that stays above it;
# UPDATEs of values and UPDATEs that move rows across buckets; DELETEs by time range (every form of
# time comparison the write path reads, and forms it cannot read), by site or by value; the tutorial's
# expiry `DELETE FROM src WHERE at < <fixed time>`; rollup.expire; deletes of kept history rows from the
# minute target (the documented way to remove rows from a rollup); runs of each level in random order;
# transactions that write several tables and commit, that write and roll back, that write and run.
# Times are fixed (a 2-hour window in 2024, a 30-minute one in 2100), never now(), so that a replay
# writes the same rows; the first runs move each frontier to the current minute/hour, above the 2024
# window, so every later write there is a backfill.
#
# A coordinator and two workers; src (8 shards) -> r_1min into src_1min (count, FILTERed counts, sum,
# min, max, the tutorial's SUM(latency)/COUNT(1) average) -> r_1hour into src_1hour (sums of counts and
# sums, min of min, max of max), both co-located with src, and a real-time view of each level. After
# every step, against snapshots of every table taken into local tables and GROUP BYs computed there
# (docs/sql-reference.md "Native rollups", docs/realtime-views.md):
#   - structure: no target row at or above its rollup's frontier, no cell twice, frontiers on bucket
#     boundaries and never moving back, the hourly frontier never above the minute one, no last_error;
#   - minute view = GROUP BY of all raw rows, plus the minute target's row for every cell with no raw
#     row left (kept history), nothing else;
#   - hourly view = hourly GROUP BY of the minute view (the real-time form of the level below), plus
#     the hourly target's row for every cell with no row there;
#   - when no raw write committed since the last minute run: every minute cell below the minute
#     frontier that has raw rows equals their GROUP BY (EXCEPT ALL both ways). Every bucket below the
#     frontier, as sql-reference.md states it: rollup-engine.md's lower horizon (`expired_before`)
#     is not built, runs recompute any bucket written, and expiry takes whole buckets, so a backfill
#     into an expired bucket is recomputed from the rows it brought;
#   - when the minute target was not written (run, history delete) since the last hourly run: every
#     hourly cell below the hourly frontier that has minute rows equals their hourly GROUP BY;
#   - when both hold: every hourly cell below the hourly frontier whose minute rows all still have raw
#     rows equals the hourly GROUP BY of the raw rows.
# On failure: the seed, the step, its statements, the differing rows, and how to replay (the steps do
# not depend on STEPS, so SEED=<seed> STEPS=<step> replays up to the failure).
#
# Environment:
#   SEED=1                  the generator's seed (printed at the start)
#   STEPS=150               steps to run (about 80 s on 2 cores, cluster start included)
#   RANDOM_TEST_LOG=<file>  copy the statements run, with their results, to <file>
#   RANDOM_TEST_SELFCHECK=1 corrupt one row of src_1min (UPDATE on the target) at the first step after
#                           STEPS/4 where the minute target is checked; =2: one row of src_1hour where
#                           the hourly target is checked. The test must then report FAIL and exit 1:
#                           that is how we know the checks can fail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=test/cluster.sh
source test/cluster.sh

SEED=${SEED:-1}
STEPS=${STEPS:-150}
SELFCHECK=${RANDOM_TEST_SELFCHECK:-0}
[[ $SEED =~ ^[0-9]+$ && $STEPS =~ ^[0-9]+$ && $SELFCHECK =~ ^[012]$ ]] ||
    { echo "FAIL: SEED and STEPS must be numbers, RANDOM_TEST_SELFCHECK 0, 1 or 2"; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 is needed to generate the steps"; exit 1; }
echo "rollup_random: SEED=$SEED STEPS=$STEPS${RANDOM_TEST_SELFCHECK:+ RANDOM_TEST_SELFCHECK=$SELFCHECK}"

# Every session in UTC: the expiry step computes its keep interval from now(), and the checks bucket
# with date_trunc in the session's zone.
export PGTZ=UTC
export ROLLUP_EXTRA_CONF="${ROLLUP_EXTRA_CONF:+$ROLLUP_EXTRA_CONF
}timezone = 'UTC'"
export ROLLUP_COORDINATOR_CONF="${ROLLUP_COORDINATOR_CONF:+$ROLLUP_COORDINATOR_CONF
}rollup.enable_scheduler = off"
cluster_install
cluster_start 2

q() { cluster_psql "$COORDINATOR_PORT" -Atq -c "$1"; }
work=$CLUSTER_BASE/random
mkdir -p "$work/steps"
chmod 755 "$work" "$work/steps"

q "CREATE EXTENSION rollup"
for n in worker_1 worker_2; do q "SELECT rollup.add_node('127.0.0.1', ${CLUSTER_PORT[$n]})" >/dev/null; done
cluster_psql "$COORDINATOR_PORT" -q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE TABLE src (site_id int NOT NULL, at timestamptz NOT NULL, status int, latency int);
SELECT create_distributed_table('src', 'site_id', 8);
CREATE TABLE src_1min (site_id int, at timestamptz, n bigint, ok bigint, err bigint, lat_sum bigint,
                       lat_min int, lat_max int, avg_lat int);
SELECT create_distributed_table('src_1min', 'site_id', colocate_with => 'src');
CREATE TABLE src_1hour (site_id int, at timestamptz, n bigint, ok bigint, err bigint, lat_sum bigint,
                        lat_min int, lat_max int);
SELECT create_distributed_table('src_1hour', 'site_id', colocate_with => 'src');
-- written along with src in multi-table transactions; no rollup reads them
CREATE TABLE notes (site_id int NOT NULL, at timestamptz, note text);
SELECT create_distributed_table('notes', 'site_id', colocate_with => 'src');
CREATE TABLE audit (step int, rows_seen bigint);
SELECT rollup.create_rollup('r_1min', 'src_1min', $$
  SELECT site_id, date_trunc('minute', at) AS at, count(*) AS n,
         count(1) FILTER (WHERE status BETWEEN 200 AND 299) AS ok,
         count(1) FILTER (WHERE status >= 500) AS err,
         sum(latency) AS lat_sum, min(latency) AS lat_min, max(latency) AS lat_max,
         sum(latency) / count(1) AS avg_lat
    FROM src GROUP BY 1, 2 $$);
SELECT rollup.create_rollup('r_1hour', 'src_1hour', $$
  SELECT site_id, date_trunc('hour', at) AS at, sum(n) AS n, sum(ok) AS ok, sum(err) AS err,
         sum(lat_sum) AS lat_sum, min(lat_min) AS lat_min, max(lat_max) AS lat_max
    FROM src_1min GROUP BY 1, 2 $$);
SELECT rollup.create_realtime_view('r_1min', 'src_1min_live');
SELECT rollup.create_realtime_view('r_1hour', 'src_1hour_live');
SQL

# ---- the checks: one psql session per step; variables min_clean, up_clean (0/1), prev_f1, prev_f2
# (the frontiers after the previous step, '' for none). Prints one line per difference, then the line
# "frontiers|<f1>|<f2>". Every GROUP BY is plain PostgreSQL over local copies of the tables.
cat >"$work/check.sql" <<'SQL'
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE TEMP TABLE fr AS SELECT (SELECT frontier FROM rollup.rollups WHERE name = 'r_1min') AS f1,
                               (SELECT frontier FROM rollup.rollups WHERE name = 'r_1hour') AS f2;
CREATE TEMP TABLE raw (LIKE src);
INSERT INTO raw SELECT * FROM src;
CREATE TEMP TABLE t1 (LIKE src_1min);
INSERT INTO t1 SELECT * FROM src_1min;
CREATE TEMP TABLE v1 (LIKE src_1min);
INSERT INTO v1 SELECT * FROM src_1min_live;
CREATE TEMP TABLE t2 (LIKE src_1hour);
INSERT INTO t2 SELECT * FROM src_1hour;
CREATE TEMP TABLE v2 (LIKE src_1hour);
INSERT INTO v2 SELECT * FROM src_1hour_live;
-- the rollup queries from scratch, each value converted to the target column's type
CREATE TEMP TABLE g1 AS
  SELECT site_id, date_trunc('minute', at) AS at, count(*)::bigint AS n,
         (count(1) FILTER (WHERE status BETWEEN 200 AND 299))::bigint AS ok,
         (count(1) FILTER (WHERE status >= 500))::bigint AS err,
         sum(latency)::bigint AS lat_sum, min(latency)::int AS lat_min, max(latency)::int AS lat_max,
         (sum(latency) / count(1))::int AS avg_lat
    FROM raw GROUP BY 1, 2;
\set hourly 'site_id, date_trunc(''hour'', at) AS at, sum(n)::bigint AS n, sum(ok)::bigint AS ok, sum(err)::bigint AS err, sum(lat_sum)::bigint AS lat_sum, min(lat_min)::int AS lat_min, max(lat_max)::int AS lat_max'
CREATE TEMP TABLE h_of_t1 AS SELECT :hourly FROM t1 GROUP BY 1, 2;
CREATE TEMP TABLE h_of_v1 AS SELECT :hourly FROM v1 GROUP BY 1, 2;
CREATE TEMP TABLE h_of_g1 AS SELECT :hourly FROM g1 GROUP BY 1, 2;

-- structure, at every step
SELECT 'structure: src_1min has a row at or above the minute frontier ' || coalesce(f1::text, 'NULL') || ': ' || t1::text
  FROM t1, fr WHERE f1 IS NULL OR t1.at >= f1;
SELECT 'structure: src_1hour has a row at or above the hourly frontier ' || coalesce(f2::text, 'NULL') || ': ' || t2::text
  FROM t2, fr WHERE f2 IS NULL OR t2.at >= f2;
SELECT 'structure: src_1min holds cell (' || site_id || ', ' || at || ') ' || count(*) || ' times'
  FROM t1 GROUP BY site_id, at HAVING count(*) > 1;
SELECT 'structure: src_1hour holds cell (' || site_id || ', ' || at || ') ' || count(*) || ' times'
  FROM t2 GROUP BY site_id, at HAVING count(*) > 1;
SELECT 'structure: hourly frontier ' || f2 || ' is above the minute frontier ' || coalesce(f1::text, 'NULL')
  FROM fr WHERE f2 IS NOT NULL AND (f1 IS NULL OR f2 > f1);
SELECT 'structure: minute frontier ' || f1 || ' is not a minute boundary' FROM fr WHERE f1 <> date_trunc('minute', f1);
SELECT 'structure: hourly frontier ' || f2 || ' is not an hour boundary' FROM fr WHERE f2 <> date_trunc('hour', f2);
SELECT 'structure: minute frontier moved back from ' || :'prev_f1' || ' to ' || coalesce(f1::text, 'NULL')
  FROM fr WHERE NULLIF(:'prev_f1', '') IS NOT NULL AND (f1 IS NULL OR f1 < NULLIF(:'prev_f1', '')::timestamptz);
SELECT 'structure: hourly frontier moved back from ' || :'prev_f2' || ' to ' || coalesce(f2::text, 'NULL')
  FROM fr WHERE NULLIF(:'prev_f2', '') IS NOT NULL AND (f2 IS NULL OR f2 < NULLIF(:'prev_f2', '')::timestamptz);
SELECT 'structure: rollup ' || name || ' reports last_error: ' || last_error FROM rollup.rollups WHERE last_error IS NOT NULL;

-- the minute view, at every step: every cell with raw rows is their GROUP BY; a cell without raw
-- rows shows the target's kept row (realtime-views.md), if any
CREATE TEMP TABLE e1 AS
  SELECT * FROM g1
  UNION ALL
  SELECT * FROM t1 WHERE NOT EXISTS (SELECT 1 FROM g1 WHERE g1.site_id = t1.site_id AND g1.at = t1.at);
SELECT 'minute view: missing ' || x::text FROM (SELECT * FROM e1 EXCEPT ALL SELECT * FROM v1) x;
SELECT 'minute view: unexpected ' || x::text FROM (SELECT * FROM v1 EXCEPT ALL SELECT * FROM e1) x;

-- the hourly view, at every step: the hourly GROUP BY of the minute level's real-time form, plus the
-- hourly target's kept rows of cells with nothing below
CREATE TEMP TABLE e2 AS
  SELECT * FROM h_of_v1
  UNION ALL
  SELECT * FROM t2 WHERE NOT EXISTS (SELECT 1 FROM h_of_v1 h WHERE h.site_id = t2.site_id AND h.at = t2.at);
SELECT 'hourly view: missing ' || x::text FROM (SELECT * FROM e2 EXCEPT ALL SELECT * FROM v2) x;
SELECT 'hourly view: unexpected ' || x::text FROM (SELECT * FROM v2 EXCEPT ALL SELECT * FROM e2) x;

\if :min_clean
-- no raw write since the last minute run: below the frontier, every cell with raw rows is exact
CREATE TEMP TABLE w1 AS SELECT g1.* FROM g1, fr WHERE g1.at < fr.f1;
CREATE TEMP TABLE m1 AS SELECT t1.* FROM t1 WHERE (site_id, at) IN (SELECT site_id, at FROM w1);
SELECT 'minute target: missing ' || x::text FROM (SELECT * FROM w1 EXCEPT ALL SELECT * FROM m1) x;
SELECT 'minute target: unexpected ' || x::text FROM (SELECT * FROM m1 EXCEPT ALL SELECT * FROM w1) x;
\endif

\if :up_clean
-- the minute target unchanged since the last hourly run: below the hourly frontier, every cell with
-- rows in the minute target is their hourly GROUP BY
CREATE TEMP TABLE w2 AS SELECT h.* FROM h_of_t1 h, fr WHERE h.at < fr.f2;
CREATE TEMP TABLE m2 AS SELECT t2.* FROM t2 WHERE (site_id, at) IN (SELECT site_id, at FROM w2);
SELECT 'hourly target: missing ' || x::text FROM (SELECT * FROM w2 EXCEPT ALL SELECT * FROM m2) x;
SELECT 'hourly target: unexpected ' || x::text FROM (SELECT * FROM m2 EXCEPT ALL SELECT * FROM w2) x;
\if :min_clean
-- both levels settled: an hour whose minute rows all come from raw rows still there is the hourly
-- GROUP BY of those raw rows
CREATE TEMP TABLE w3 AS
  SELECT h.* FROM h_of_g1 h, fr WHERE h.at < fr.f2
     AND NOT EXISTS (SELECT 1 FROM t1 WHERE t1.site_id = h.site_id AND date_trunc('hour', t1.at) = h.at
                        AND NOT EXISTS (SELECT 1 FROM g1 WHERE g1.site_id = t1.site_id AND g1.at = t1.at));
CREATE TEMP TABLE m3 AS SELECT t2.* FROM t2 WHERE (site_id, at) IN (SELECT site_id, at FROM w3);
SELECT 'raw to hourly: missing ' || x::text FROM (SELECT * FROM w3 EXCEPT ALL SELECT * FROM m3) x;
SELECT 'raw to hourly: unexpected ' || x::text FROM (SELECT * FROM m3 EXCEPT ALL SELECT * FROM w3) x;
\endif
\endif
SELECT 'frontiers|' || coalesce(f1::text, '') || '|' || coalesce(f2::text, '') || '|' ||
       (SELECT count(*) FROM raw) || '|' || (SELECT count(*) FROM g1) || '|' || (SELECT count(*) FROM t1) || '|' ||
       (SELECT count(*) FROM t2) FROM fr;
SQL

# ---- the generator: <n>.sql (the step's statements) and <n>.meta ("<kind> <minute clean>
# <hourly clean>": which targets the documented guarantee covers after the step). A step depends
# only on the seed and the steps before it, never on STEPS.
python3 - "$SEED" "$STEPS" "$work/steps" <<'PY'
import datetime as dt
import os
import random
import sys

seed, steps, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(seed)
UTC = dt.timezone.utc
W0 = dt.datetime(2024, 3, 1, tzinfo=UTC)   # the past window: 2 hours
WMIN = 120
F0 = dt.datetime(2100, 1, 1, tzinfo=UTC)   # the future window, above every frontier: 30 minutes
FMIN = 30
SITES = 8
STATUS = [200] * 6 + [201, 204, 301, 404, 404, 500, 502, 503]


def lit(t, typed=None):
    s = "'" + t.strftime('%Y-%m-%d %H:%M:%S.%f') + "+00'"
    typed = rng.random() < 0.5 if typed is None else typed
    return ('timestamptz ' + s) if typed else s


recent = []


def ts():
    """A random time: often near one used before (a backfill into a cell that has rows), else in the
    past window, sometimes on a bucket boundary or just before one, sometimes in the future window."""
    t = fresh_ts()
    if recent and rng.random() < 0.4:
        t = rng.choice(recent[-60:]) + dt.timedelta(seconds=rng.uniform(-90, 90))
    recent.append(t)
    return t


def fresh_ts():
    r = rng.random()
    if r < 0.08:
        return F0 + dt.timedelta(seconds=rng.randrange(FMIN * 60), microseconds=rng.randrange(10**6))
    if r < 0.18:
        return W0 + dt.timedelta(minutes=rng.choice([0, 60, 120, rng.randrange(WMIN + 1)]))
    if r < 0.23:
        return W0 + dt.timedelta(minutes=rng.randrange(1, WMIN + 1), microseconds=-1)
    return W0 + dt.timedelta(seconds=rng.randrange(WMIN * 60), microseconds=rng.choice([0, rng.randrange(10**6)]))


def span():
    """A time range [lo, hi): 1 to 20 minutes, mostly in the past window."""
    lo = ts()
    return lo, lo + dt.timedelta(seconds=rng.randrange(60, 20 * 60))


def time_cond():
    """A condition on at: the comparisons the write path bounds (either operand order), and forms it
    cannot bound (it must then record an unknown span)."""
    lo, hi = span()
    L, H = lit(lo), lit(hi)
    r = rng.random()
    if r < 0.08:
        return f"at BETWEEN {L} AND {H}"
    if r < 0.12:
        return f"at = {lit(W0 + dt.timedelta(minutes=rng.randrange(WMIN)))}"
    if r < 0.17:
        return f"date_trunc('minute', at) = {lit(lo.replace(second=0, microsecond=0))}"
    if r < 0.21:
        return f"at >= {L}::timestamptz - interval '3 minutes' AND at < {H}"
    if r < 0.25:
        return f"(at < {L} OR at >= {H})"
    if r < 0.29:
        return f"at >= timestamp '{lo.strftime('%Y-%m-%d %H:%M:%S')}' AND at < {H}"
    if r < 0.33:
        return f"NOT (at < {L}) AND at < {H}"
    if r < 0.37:
        return rng.choice([f"at >= {L}", f"{L} < at"])
    if r < 0.41:
        return rng.choice([f"at < {H}", f"{H} >= at"])
    low = rng.choice([f"at >= {L}", f"{L} <= at", f"at > {L}", f"{L} < at"])
    high = rng.choice([f"at < {H}", f"{H} > at", f"at <= {H}", f"{H} >= at"])
    return f"{low} AND {high}"


def site():
    return rng.randint(1, SITES)


def latency():
    return 'NULL' if rng.random() < 0.05 else str(rng.randint(1, 2000))


recent_rows = []


def row():
    """Half the rows go into (or next to) the cell of a row written before."""
    if recent_rows and rng.random() < 0.5:
        s, t = rng.choice(recent_rows[-80:])
        t += dt.timedelta(seconds=rng.uniform(-20, 20))
    else:
        s, t = site(), ts()
    recent_rows.append((s, t))
    return s, t, rng.choice(STATUS), latency()


def cutoff(i, lead=0):
    """The expiry cutoffs climb through the past window as the steps go."""
    m = max(0.0, min(WMIN - 20.0, lead + i * 0.4 + rng.uniform(-15, 15)))
    return W0 + dt.timedelta(seconds=int(m * 60), microseconds=rng.choice([0, rng.randrange(10**6)]))


# Each write returns (sql, events): 'w' a write to src, 't' a write to src_1min.
def insert_values(i):
    rows = ', '.join(f"({s}, {lit(t, False)}, {st}, {la})" for s, t, st, la in (row() for _ in range(rng.randint(1, 12))))
    return f"INSERT INTO src (site_id, at, status, latency) VALUES {rows};", 'w'


def insert_series(i):
    start = ts()
    n = rng.randint(10, 200)
    step = rng.randint(1, 30)
    c = rng.randint(0, 999)
    sites = rng.choice([str(site()), f"1 + (g / {rng.randint(2, 20)}) % {SITES}", f"1 + (g * {rng.randint(1, 7)}) % {SITES}"])
    return (f"INSERT INTO src SELECT {sites}, {lit(start, True)} + g * interval '{step} seconds', "
            f"(ARRAY[200, 200, 201, 404, 500, 503])[1 + g % 6], "
            f"CASE WHEN g % 17 = 0 THEN NULL ELSE (g * 37 + {c}) % 1000 END "
            f"FROM generate_series(1, {n}) g;"), 'w'


def copy_rows(i):
    null = '\\N'
    lines = '\n'.join(f"{s}\t{t.strftime('%Y-%m-%d %H:%M:%S.%f')}+00\t{st}\t{null if la == 'NULL' else la}"
                      for s, t, st, la in (row() for _ in range(rng.randint(1, 15))))
    return f"COPY src (site_id, at, status, latency) FROM STDIN;\n{lines}\n\\.", 'w'


def insert_select(i):
    lo = ts()
    hi = lo + dt.timedelta(seconds=rng.randrange(60, 8 * 60))
    shift = rng.choice([rng.randint(-120, 120), rng.randint(-120, 120), 'future'])
    moved = (f"at + (timestamptz '{F0.strftime('%Y-%m-%d')} 00:00+00' - timestamptz '{W0.strftime('%Y-%m-%d')} 00:00+00')"
             if shift == 'future' else f"at + interval '{shift} minutes'")
    where = f"at >= {lit(lo)} AND at < {lit(hi)}" + (f" AND site_id = {site()}" if rng.random() < 0.5 else '')
    return f"INSERT INTO src SELECT site_id, {moved}, status, latency + 1 FROM src WHERE {where};", 'w'


def update_values(i):
    sets = rng.choice(["latency = latency + {d}", "status = CASE WHEN status = 200 THEN 500 ELSE 200 END",
                       "latency = NULL", "latency = {d}, status = 404"]).format(d=rng.randint(1, 300))
    where = time_cond() + (f" AND site_id = {site()}" if rng.random() < 0.6 else '')
    return f"UPDATE src SET {sets} WHERE {where};", 'w'


def update_move(i):
    r = rng.random()
    if r < 0.15:
        sets = "at = at + (timestamptz '2100-01-01 00:00+00' - timestamptz '2024-03-01 00:00+00')"
    elif r < 0.3:
        sets = "at = at - (timestamptz '2100-01-01 00:00+00' - timestamptz '2024-03-01 00:00+00')"
        return f"UPDATE src SET {sets} WHERE at >= timestamptz '2100-01-01 00:00+00' AND site_id = {site()};", 'w'
    elif r < 0.45:
        sets = f"at = {lit(ts())}"
    else:
        sets = f"at = at + interval '{rng.choice([-1, 1]) * rng.randint(1, 90)} minutes {rng.randint(0, 59)} seconds'"
    where = time_cond()
    if ' OR ' in where or rng.random() < 0.7:
        where += f" AND site_id = {site()}"
    return f"UPDATE src SET {sets} WHERE {where};", 'w'


def update_unbounded(i):
    return rng.choice([f"UPDATE src SET latency = latency * 2 WHERE latency < {rng.randint(10, 200)};",
                       f"UPDATE src SET status = 503 WHERE status = 404 AND site_id = {site()};"]), 'w'


def delete_range(i):
    where = time_cond()
    if ' OR ' in where or rng.random() < 0.5:  # an OR keeps a span: all but that span would go
        where += f" AND site_id = {site()}"
    return f"DELETE FROM src WHERE {where};", 'w'


def delete_other(i):
    return rng.choice([f"DELETE FROM src WHERE site_id = {site()} AND status = 404;",
                       f"DELETE FROM src WHERE site_id = {site()};",
                       f"DELETE FROM src WHERE latency > {rng.randint(1900, 1999)};"]), 'w'


def tutorial_expiry(i):
    return f"DELETE FROM src WHERE at < {lit(cutoff(i))};", 'w'


def expire(i):
    # keep = now() - cutoff, in the transaction that expires: now() is the same in both, so the
    # policy's cutoff is exactly the fixed time (before the frontiers and pending ranges clamp it:
    # after a run there are none, so half the time the minute rollup runs first).
    run = runs_allowed and rng.random() < 0.5
    return ((run1(i)[0] + '\n' if run else '') +
            f"BEGIN;\nSELECT rollup.set_retention('src', 'at', now() - {lit(cutoff(i, rng.randint(10, 35)), True)});\n"
            f"SELECT rollup.expire('src');\nCOMMIT;"), '1' if run else ''


def delete_history(i):
    # rows of the minute target whose cell has no raw row left, found first (a DELETE of a
    # distributed table reads no other table), then deleted one by one
    return ("SELECT format('DELETE FROM src_1min WHERE site_id = %s AND at = %L', t.site_id, t.at)\n"
            "  FROM src_1min t LEFT JOIN (SELECT DISTINCT site_id, date_trunc('minute', at) AS at FROM src) r\n"
            "       ON r.site_id = t.site_id AND r.at = t.at\n"
            f" WHERE r.site_id IS NULL ORDER BY t.at, t.site_id LIMIT {rng.randint(1, 4)} \\gexec"), 't'


def run1(i):
    return "SELECT rollup.run_rollup('r_1min');", '1'


def run2(i):
    return rng.choice(["SELECT rollup.run_rollup('r_1hour');", "SELECT r_1hour();"]), '2'


def run_both(i):
    a, b = ("SELECT rollup.run_rollup('r_1min');", '1'), ("SELECT rollup.run_rollup('r_1hour');", '2')
    first, second = (a, b) if rng.random() < 0.6 else (b, a)
    return first[0] + '\n' + second[0], first[1] + second[1]


SIMPLE_WRITES = [insert_values, insert_series, copy_rows, insert_select, update_values, update_move,
                 update_unbounded, delete_range, delete_other, tutorial_expiry]


def side_write(i):
    return rng.choice([f"INSERT INTO notes VALUES ({site()}, {lit(ts())}, 'step {i}');",
                       f"UPDATE notes SET note = note || '+' WHERE site_id = {site()};",
                       f"INSERT INTO audit SELECT {i}, count(*) FROM src;",
                       f"DELETE FROM notes WHERE site_id = {site()};"]), ''


def several(i, k, runs):
    """k statements of a transaction, with their events in statement order."""
    parts, events = [], ''
    for _ in range(k):
        if runs and rng.random() < 0.25:
            sql, ev = rng.choice([run1, run2])(i)
        elif rng.random() < 0.3:
            sql, ev = side_write(i)
        else:
            sql, ev = rng.choice(SIMPLE_WRITES)(i)
        parts.append(sql)
        events += ev
    return parts, events


def committed(i):
    parts, events = several(i, rng.randint(2, 4), runs=False)
    parts.append(side_write(i)[0])
    return 'BEGIN;\n' + '\n'.join(parts) + '\nCOMMIT;', events


def rolled_back(i):
    parts, _ = several(i, rng.randint(2, 4), runs=True)
    return 'BEGIN;\n' + '\n'.join(parts) + '\nROLLBACK;', ''


def with_run(i):
    """Writes and at least one run in one transaction that commits."""
    parts, events = several(i, rng.randint(2, 4), runs=True)
    if '1' not in events and '2' not in events:
        sql, ev = rng.choice([run1, run2])(i)
        parts.append(sql)
        events += ev
    return 'BEGIN;\n' + '\n'.join(parts) + '\nCOMMIT;', events


OPS = [(insert_values, 16), (insert_series, 7), (copy_rows, 4), (insert_select, 4), (update_values, 8),
       (update_move, 5), (update_unbounded, 2), (delete_range, 6), (delete_other, 2), (tutorial_expiry, 3),
       (expire, 4), (delete_history, 2), (run1, 14), (run2, 8), (run_both, 10), (committed, 5),
       (rolled_back, 4), (with_run, 2)]
RUNS = {run1, run2, run_both, with_run}
no_runs_until = rng.randint(0, 12)   # the first steps write before any run
min_clean, up_clean = False, False   # before the first runs there is nothing to check
for i in range(1, steps + 1):
    runs_allowed = i > no_runs_until
    ops = [(f, w) for f, w in OPS if i > no_runs_until or f not in RUNS]
    op = rng.choices([f for f, _ in ops], [w for _, w in ops])[0]
    sql, events = op(i)
    # A raw write in a transaction is recorded at its commit, with the frontier of that moment: the
    # minute target covers it only after a later run in another transaction.
    for e in events:
        if e == '1':
            min_clean, up_clean = True, False
        elif e == '2':
            up_clean = True
        elif e == 't':
            up_clean = False
    if 'w' in events:
        min_clean = False
    with open(os.path.join(out, f"{i:04d}.sql"), 'w') as f:
        f.write(sql + '\n')
    with open(os.path.join(out, f"{i:04d}.meta"), 'w') as f:
        f.write(f"{op.__name__} {int(min_clean)} {int(up_clean)}\n")
PY

oplog=$work/statements.log
: >"$oplog"
CLUSTER_REPORT_FILES+=("$oplog")
fails=0
fail_step() {  # <step> <kind> <what> <details...>
    local i=$1 kind=$2 what=$3
    shift 3
    echo "FAIL: step $i ($kind): $what"
    echo "---- the step's statements:"
    cat "$work/steps/$(printf %04d "$i").sql"
    if [ $# -gt 0 ]; then
        echo "---- details (first 40 lines):"
        printf '%s\n' "$@" | head -n 40
    fi
    echo "---- replay: SEED=$SEED STEPS=$i bash test/shell/rollup_random.sh (statements of every step: $oplog, printed below)"
    fails=$((fails + 1))
}

prev_f1='' prev_f2='' checked_min=0 checked_up=0 checked_both=0 corrupted=0
started=$SECONDS
for ((i = 1; i <= STEPS; i++)); do
    f=$work/steps/$(printf %04d "$i")
    read -r kind min_clean up_clean <"$f.meta"
    { echo "-- step $i ($kind)"; cat "$f.sql"; } >>"$oplog"
    # the step's results (rows a run wrote, rows expired) go into the log, after its statements
    if ! out=$(cluster_psql "$COORDINATOR_PORT" -Atq -f "$f.sql" 2>&1 >"$work/result"); then
        fail_step "$i" "$kind" "the step's statements failed" "$out"
        break
    fi
    sed 's/^/--> /' "$work/result" >>"$oplog"
    if [ "$SELFCHECK" != 0 ] && [ "$corrupted" = 0 ] && [ "$i" -ge $((STEPS / 4)) ]; then
        corrupt=''
        if [ "$SELFCHECK" = 1 ] && [ "$min_clean" = 1 ]; then
            corrupt=$(q "SELECT format('UPDATE src_1min SET n = n + 1 WHERE site_id = %s AND at = %L', site_id, m)
                           FROM (SELECT site_id, date_trunc('minute', at) AS m FROM src
                                  WHERE at < (SELECT frontier FROM rollup.rollups WHERE name = 'r_1min')
                                  ORDER BY 2, 1 LIMIT 1) x")
        elif [ "$SELFCHECK" = 2 ] && [ "$up_clean" = 1 ]; then
            corrupt=$(q "SELECT format('UPDATE src_1hour SET lat_sum = coalesce(lat_sum, 0) + 1 WHERE site_id = %s AND at = %L', site_id, h)
                           FROM (SELECT site_id, date_trunc('hour', at) AS h FROM src_1min
                                  WHERE at < (SELECT frontier FROM rollup.rollups WHERE name = 'r_1hour')
                                  ORDER BY 2, 1 LIMIT 1) x")
        fi
        if [ -n "$corrupt" ]; then
            echo "SELFCHECK: after step $i, corrupting a target: $corrupt"
            echo "-- SELFCHECK: $corrupt" >>"$oplog"
            q "$corrupt" >/dev/null
            corrupted=1
        fi
    fi
    if ! out=$(cluster_psql "$COORDINATOR_PORT" -Atq -v min_clean="$min_clean" -v up_clean="$up_clean" \
        -v prev_f1="$prev_f1" -v prev_f2="$prev_f2" -f "$work/check.sql" 2>&1); then
        fail_step "$i" "$kind" "the checks failed to run" "$out"
        break
    fi
    last=$(printf '%s\n' "$out" | tail -n 1)
    diffs=$(printf '%s\n' "$out" | sed '$d')
    if [[ $last != frontiers\|* ]]; then
        fail_step "$i" "$kind" "the checks printed no frontiers" "$out"
        break
    fi
    if [ -n "$diffs" ]; then
        mapfile -t lines <<<"$diffs"
        fail_step "$i" "$kind" "${#lines[@]} differences (minute target checked: $min_clean, hourly target checked: $up_clean)" "${lines[@]}"
        break
    fi
    IFS='|' read -r _ prev_f1 prev_f2 nraw ncells nt1 nt2 <<<"$last"
    checked_min=$((checked_min + min_clean))
    checked_up=$((checked_up + up_clean))
    checked_both=$((checked_both + (min_clean & up_clean)))
    if [ $((i % 25)) = 0 ] || [ "$i" = "$STEPS" ]; then
        echo "step $i/$STEPS: raw $nraw rows in $ncells cells, src_1min $nt1 rows, src_1hour $nt2; frontiers ${prev_f1:-none} / ${prev_f2:-none} ($((SECONDS - started)) s)"
    fi
done

if [ -n "${RANDOM_TEST_LOG:-}" ]; then cp "$oplog" "$RANDOM_TEST_LOG"; fi
if [ "$fails" = 0 ]; then
    echo "PASS: $STEPS steps: the structure of both targets and both real-time views exact after every step"
    echo "PASS: the minute target exact after $checked_min steps with no raw write since its last run"
    echo "PASS: the hourly target exact after $checked_up steps with the minute target unchanged since its last run"
    echo "PASS: the hourly target equal to the raw rows' hourly GROUP BY after $checked_both steps with both levels settled"
    if [ "$SELFCHECK" != 0 ]; then
        echo "FAIL: RANDOM_TEST_SELFCHECK=$SELFCHECK: $([ "$corrupted" = 1 ] && echo "a corrupted target went unnoticed" || echo "no step to corrupt a target at")"
        exit 1
    fi
    echo "rollup_random: all passed (SEED=$SEED)"
else
    echo "rollup_random: failed (SEED=$SEED)"
    exit 1
fi
