"""A real client driver against the coordinator (issue 10): psycopg 3 (Debian's python3-psycopg)
binds parameters server-side (extended protocol), prepares statements it runs repeatedly, pipelines
executemany, streams COPY, nests transactions as savepoints and reads through server-side cursors,
in text and binary formats. Every result on the distributed table is compared with the same
statement on a local twin table. Prints one PASS/FAIL line per check; exit status 1 on any failure.
Usage: psycopg_client.py <conninfo>
"""
import datetime
import decimal
import sys

import psycopg

failures = 0


def check(name, ok, detail=""):
    global failures
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else " -- " + str(detail)))
    if not ok:
        failures += 1


def both(conn, sql, params=None, **kw):
    """Runs sql on dist and on twin (%(t)s is the table); returns both result lists."""
    out = []
    for t in ("drv_dist", "drv_twin"):
        with conn.cursor(**kw) as cur:
            cur.execute(sql.replace("{t}", t), params)
            out.append(cur.fetchall() if cur.description else cur.rowcount)
    return out


def main(conninfo):
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS drv_dist, drv_twin")
        for t in ("drv_dist", "drv_twin"):
            conn.execute(f"CREATE TABLE {t} (id bigint PRIMARY KEY, site int, at timestamptz, "
                         "amount numeric(10,2), tags text[], payload jsonb, note text)")
        conn.execute("SELECT create_distributed_table('drv_dist', 'id', 4)")

        # Server-side parameters (extended protocol), many types.
        rows = [(i, i % 5, datetime.datetime(2024, 3, 10, tzinfo=datetime.timezone.utc) + datetime.timedelta(minutes=i),
                 decimal.Decimal(i) / 4, [f"t{i}", "x"], psycopg.types.json.Jsonb({"i": i}),
                 None if i % 7 == 0 else f"note {i}'\"\\") for i in range(1, 201)]
        for t in ("drv_dist", "drv_twin"):
            with conn.cursor() as cur:
                for r in rows[:50]:
                    cur.execute(f"INSERT INTO {t} VALUES (%s, %s, %s, %s, %s, %s, %s)", r)
                # executemany: pipelined by psycopg
                cur.executemany(f"INSERT INTO {t} VALUES (%s, %s, %s, %s, %s, %s, %s)", rows[50:150])
                # COPY from the client
                with cur.copy(f"COPY {t} (id, site, at, amount, tags, payload, note) FROM STDIN") as copy:
                    for r in rows[150:]:
                        copy.write_row(r)
        d, l = both(conn, "SELECT * FROM {t} ORDER BY id")
        check("rows written by parameters, executemany and COPY", d == l and len(d) == 200, (len(d), len(l)))

        # Prepared statements: the same statement many times with other values (prepare=True makes
        # psycopg prepare it server-side at once).
        ok = True
        for i in range(1, 40):
            with conn.cursor() as cur:
                res = []
                for t in ("drv_dist", "drv_twin"):
                    cur.execute(f"SELECT count(*), sum(amount), max(at) FROM {t} WHERE site = %s AND id > %s",
                                (i % 5, i), prepare=True)
                    res.append(cur.fetchall())
                ok = ok and res[0] == res[1]
        check("prepared statements with changing parameters", ok)
        with conn.cursor() as cur:
            for i in range(1, 30):
                cur.execute("SELECT note FROM drv_dist WHERE id = %s", (i,), prepare=True)
                got = cur.fetchone()
                if got[0] != rows[i - 1][6]:
                    ok = False
        check("prepared router lookups", ok)

        # Binary results.
        d, l = both(conn, "SELECT id, at, amount, tags, payload FROM {t} WHERE id % 3 = 0 ORDER BY id", binary=True)
        check("binary format results", d == l and len(d) == 66, (len(d), len(l)))

        # Transactions: commit, rollback, savepoints.
        conn.autocommit = False
        for t in ("drv_dist", "drv_twin"):
            with conn.transaction():
                conn.execute(f"UPDATE {t} SET note = 'in tx' WHERE id <= 10")
                try:
                    with conn.transaction():  # a savepoint
                        conn.execute(f"UPDATE {t} SET note = 'rolled back' WHERE id <= 20")
                        conn.execute("SELECT 1/0")
                except psycopg.errors.DivisionByZero:
                    pass
                conn.execute(f"DELETE FROM {t} WHERE id = 200")
            try:
                with conn.transaction():
                    conn.execute(f"INSERT INTO {t} (id, site) VALUES (1000, 1)")
                    raise RuntimeError("abort")
            except RuntimeError:
                pass
        conn.commit()
        d, l = both(conn, "SELECT id, note FROM {t} ORDER BY id")
        check("commit, rollback and savepoints", d == l and len(d) == 199 and d[0][1] == "in tx", (len(d), d[:2]))

        # Errors come back with their SQLSTATE.
        for t in ("drv_dist", "drv_twin"):
            try:
                conn.execute(f"INSERT INTO {t} (id) VALUES (1)")
                check(f"duplicate key error on {t}", False, "no error")
            except psycopg.errors.UniqueViolation:
                check(f"duplicate key error on {t}", True)
            conn.rollback()

        # Server-side cursor, fetched in pieces inside a transaction.
        fetched = []
        with conn.cursor(name="drv_cursor") as cur:
            cur.itersize = 17
            cur.execute("SELECT id FROM drv_dist WHERE site = %s ORDER BY id", (2,))
            for r in cur:
                fetched.append(r[0])
        conn.commit()
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM drv_twin WHERE site = 2 ORDER BY id")
            expected = [r[0] for r in cur.fetchall()]
        conn.commit()
        check("server-side cursor", fetched == expected and len(expected) > 0, (len(fetched), len(expected)))

        conn.autocommit = True
        conn.execute("DROP TABLE drv_dist, drv_twin")
    return 0


if __name__ == "__main__":
    main(sys.argv[1])
    sys.exit(1 if failures else 0)
