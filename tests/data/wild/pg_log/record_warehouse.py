"""Record a PostgreSQL 15 server log under the warehouse app, with pg_stat_statements' deltas.

    .venv/bin/python tests/data/wild/pg_log/record_warehouse.py [--seconds 25] [--users 8]

One throw-away cluster (perfkit.sandbox.postgres.Cluster, 127.0.0.1, a free port) logging every
statement (`log_min_duration_statement = 0`) with auto_explain (text, analyze), lock waits, temp
files, to stderr (a pgBadger-style prefix) and jsonlog at once (`logging_collector`: both files
hold the same messages). The warehouse app (examples/warehouse: Flask + SQLAlchemy 2 + psycopg 3
under Gunicorn, gthread 2x4) is seeded and served; Locust (headless, 127.0.0.1, bounded `-t`)
drives it while a side script runs what the app does not: SQLAlchemy server-side cursors
(`stream_results`: DECLARE/FETCH/CLOSE), IN-lists of several lengths, psycopg prepared
statements from the first call (`prepare_threshold=0`: `execute _pg3_n`), and a portal
fetched in batches by the extended protocol's Execute row limit (as JDBC's fetchSize and
asyncpg's cursors do: PostgreSQL logs `execute fetch from`), through a minimal protocol client.

Truth (`truth.json`, from outside the log): an observer session, neither logged nor tracked,
snapshots pg_stat_statements before and after the window; the deltas per (queryid, user,
database, toplevel) are the truth: calls, total_exec_time, total_plan_time, rows, and the
query text PostgreSQL stored. The window is the log files' byte sizes read between the two
snapshots, with the app idle. What the side script did is listed under `side`.

Writes `warehouse/stderr/{postgresql.log.gz,log_line_prefix.txt,truth.json}`,
`warehouse/jsonlog/{postgresql.json.gz,truth.json}` and `warehouse/settings.conf`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
sys.path.insert(0, str(ROOT))
from examples.warehouse.record import BIN, free_port, running, wait_http  # noqa: E402
from perfkit.sandbox.postgres import Cluster  # noqa: E402

OUT = HERE / "warehouse"
PREFIX = "%m [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "
SETTINGS = (
    "log_destination = 'stderr,jsonlog'",
    "logging_collector = on",
    "log_directory = 'log'",
    "log_filename = 'postgresql.log'",  # jsonlog: postgresql.json beside it
    f"log_line_prefix = '{PREFIX}'",
    "lc_messages = 'C'",
    "log_timezone = 'UTC'",
    "log_min_duration_statement = 0",
    "log_lock_waits = on",
    "deadlock_timeout = '100ms'",
    "log_temp_files = 0",
    "log_checkpoints = on",
    "log_connections = on",
    "log_disconnections = on",
    "log_autovacuum_min_duration = 0",
    "pg_stat_statements.track_planning = on",
    "shared_preload_libraries = 'pg_stat_statements,auto_explain'",
    "auto_explain.log_min_duration = 0",
    "auto_explain.log_analyze = on",
    "auto_explain.log_format = 'text'",
)
OBSERVER_OPTIONS = ("-c log_min_duration_statement=-1 -c pg_stat_statements.track=none "
                    "-c auto_explain.log_min_duration=-1")  # fmt: skip
PGSS = ("SELECT s.userid, s.dbid, s.toplevel, s.queryid::text, s.query, s.calls, "
        "s.total_exec_time, s.total_plan_time, s.plans, s.rows, r.rolname, d.datname "
        "FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
        "JOIN pg_database d ON d.oid = s.dbid")  # fmt: skip


def utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def pgss(obs: psycopg.Connection) -> dict[tuple, dict]:
    rows = obs.execute(PGSS).fetchall()
    keys = ("userid", "dbid", "toplevel", "queryid", "query", "calls", "total_exec_time",
            "total_plan_time", "plans", "rows", "user", "database")  # fmt: skip
    return {(r[0], r[1], r[2], r[3]): dict(zip(keys, r, strict=True)) for r in rows}


def deltas(before: dict, after: dict) -> list[dict]:
    """pg_stat_statements after minus before, per entry that moved (times in ms)."""
    out = []
    for key, row in after.items():
        old = before.get(key, {"calls": 0, "total_exec_time": 0.0, "total_plan_time": 0.0,
                               "plans": 0, "rows": 0})  # fmt: skip
        calls = row["calls"] - old["calls"]
        if calls <= 0:
            continue
        out.append({
            "queryid": row["queryid"], "toplevel": row["toplevel"], "user": row["user"],
            "database": row["database"], "query": row["query"], "calls": calls,
            "total_exec_time": round(row["total_exec_time"] - old["total_exec_time"], 6),
            "total_plan_time": round(row["total_plan_time"] - old["total_plan_time"], 6),
            "plans": row["plans"] - old["plans"], "rows": row["rows"] - old["rows"],
            "new_in_window": key not in before,
        })  # fmt: skip
    return sorted(out, key=lambda r: -r["total_exec_time"])


# --- a minimal frontend/backend protocol client (trust auth): a portal run in batches ------

def _msg(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def _read_until_ready(sock: socket.socket) -> list[tuple[bytes, bytes]]:
    got, buffer = [], b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        while len(buffer) >= 5:
            kind, size = buffer[:1], struct.unpack("!i", buffer[1:5])[0]
            if len(buffer) < 1 + size:
                break
            got.append((kind, buffer[5 : 1 + size]))
            buffer = buffer[1 + size :]
            if kind == b"E":
                raise RuntimeError(f"server error: {got[-1][1]!r}")
            if kind == b"Z":
                return got
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("server closed the connection")
        buffer += chunk
    raise TimeoutError("no ReadyForQuery within 10 s")


def portal_in_batches(port: int, sql: str, batch: int) -> dict:
    """Parse, Bind, then Execute with a row limit until the portal is done, one Sync: the
    extended protocol's own cursor. Returns the batches' row counts and the backend pid."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        params = b"".join(k + b"\0" + v + b"\0" for k, v in (
            (b"user", b"postgres"), (b"database", b"warehouse"),
            (b"application_name", b"perfkit-w-portal")))  # fmt: skip
        body = struct.pack("!i", 196608) + params + b"\0"
        sock.sendall(struct.pack("!i", len(body) + 4) + body)
        startup = _read_until_ready(sock)
        pid = next(struct.unpack("!ii", b[:8])[0] for k, b in startup if k == b"K")
        batches: list[int] = []
        sock.sendall(_msg(b"P", b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))
                     + _msg(b"B", b"\0\0" + struct.pack("!hhh", 0, 0, 0))
                     + _msg(b"E", b"\0" + struct.pack("!i", batch)) + _msg(b"H", b""))
        while True:  # Flush after each Execute: read its rows, then ask for the next batch
            rows, buffer = 0, b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("server closed the connection")
                buffer += chunk
                done = None
                while len(buffer) >= 5:
                    kind, size = buffer[:1], struct.unpack("!i", buffer[1:5])[0]
                    if len(buffer) < 1 + size:
                        break
                    if kind == b"D":
                        rows += 1
                    elif kind == b"E":
                        raise RuntimeError(f"server error: {buffer[5:1 + size]!r}")
                    elif kind in (b"s", b"C"):  # PortalSuspended / CommandComplete
                        done = kind
                    buffer = buffer[1 + size :]
                if done:
                    break
            batches.append(rows)
            if done == b"C":
                break
            sock.sendall(_msg(b"E", b"\0" + struct.pack("!i", batch)) + _msg(b"H", b""))
        sock.sendall(_msg(b"S", b""))
        _read_until_ready(sock)
        sock.sendall(_msg(b"X", b""))
    return {"pid": pid, "batches": batches, "statement": sql, "batch_rows": batch}


# --- what the app does not do ----------------------------------------------------------------

PORTAL_SQL = "SELECT id, sku FROM products WHERE id <= 25 ORDER BY id"


def side(db_url: str, port: int, dsn: str) -> dict:
    """Server-side cursors, IN-lists, prepared statements, a portal in batches; what was run."""
    from sqlalchemy import create_engine, select

    from examples.warehouse.models import Product, Stock

    done: dict = {"started_utc": utc()}
    engine = create_engine(db_url, connect_args={"application_name": "perfkit-w-sqlalchemy"})
    with engine.connect() as conn:  # SQLAlchemy: BEGIN (implicit), ..., COMMIT
        # per statement: Connection.execution_options() would stream everything after it
        streamed = {"stream_results": True, "max_row_buffer": 40}
        cursors = []
        for low in (1, 101, 201):
            result = conn.execute(select(Product.id, Product.sku).where(Product.id >= low)
                                  .order_by(Product.id).limit(90), execution_options=streamed)
            cursors.append({"low": low, "rows": sum(1 for _ in result)})
        conn.commit()
        lists = []
        for n in (1, 2, 3, 3, 5, 8):
            ids = list(range(10, 10 + n))
            got = conn.execute(select(Stock.id).where(Stock.product_id.in_(ids)).limit(5)).all()
            lists.append({"length": n, "rows": len(got)})
        conn.commit()
        done["sqlalchemy"] = {"pid": conn.exec_driver_sql("select pg_backend_pid()").scalar(),
                              "server_side_cursors": cursors, "in_lists": lists}  # fmt: skip
        conn.commit()
    engine.dispose()
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=0,
                         application_name="perfkit-w-prepared") as pg:  # fmt: skip
        for i in range(6):
            pg.execute("SELECT sku, price_cents FROM products WHERE id = %s", (i + 1,)).fetchall()
        for i in range(3):
            pg.execute("SELECT count(*) FROM stock WHERE product_id = %(p)s AND quantity > %(q)s",
                       {"p": i + 1, "q": 10}).fetchall()  # fmt: skip
        with pg.transaction():  # BEGIN ... COMMIT around a prepared statement
            pg.execute("SELECT sku FROM products WHERE id = %s FOR UPDATE", (7,)).fetchall()
        # psycopg's own server-side cursor, in a transaction
        with pg.cursor(name="perfkit_named") as named, pg.transaction():
            named.execute("SELECT id FROM orders WHERE id <= %s ORDER BY id", (30,))
            fetched = [len(named.fetchmany(12)) for _ in range(3)]
        done["psycopg_prepared"] = {"pid": pg.info.backend_pid, "named_cursor_batches": fetched}
    done["portal"] = [portal_in_batches(port, PORTAL_SQL, 10) for _ in range(2)]
    done["ended_utc"] = utc()
    return done


def record(seconds: int, users: int) -> None:
    from examples.warehouse.seed import seed

    shutil.rmtree(OUT, ignore_errors=True)
    (OUT / "stderr").mkdir(parents=True)
    (OUT / "jsonlog").mkdir()
    (OUT / "settings.conf").write_text("\n".join(SETTINGS) + "\n")
    cl = Cluster(preload=False, settings=SETTINGS)
    work = cl.root / "work"
    work.mkdir()
    try:
        cl.psql("create database warehouse")
        cl.psql("create extension pg_stat_statements", dbname="warehouse")
        db_url = f"postgresql+psycopg://postgres@127.0.0.1:{cl.port}/warehouse"
        seed(db_url, "baseline")
        logs = {"stderr": cl.data / "log" / "postgresql.log",
                "jsonlog": cl.data / "log" / "postgresql.json"}  # fmt: skip
        obs = psycopg.connect(cl.dsn(dbname="warehouse"), autocommit=True,
                              application_name="perfkit-observer", options=OBSERVER_OPTIONS)
        stub_port, app_port = free_port(), free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "WAREHOUSE_DB": db_url,
               "WAREHOUSE_SCENARIO": "baseline",
               "INVENTORY_API": f"http://127.0.0.1:{stub_port}",
               "SHIPPING_API": f"http://127.0.0.1:{stub_port}"}  # fmt: skip
        stub_cmd = [str(BIN / "python"), "-m", "gunicorn", "-b", f"127.0.0.1:{stub_port}",
                    "-k", "gthread", "--workers", "1", "--threads", "16",
                    "examples.warehouse.stub:app"]  # fmt: skip
        app_cmd = [str(BIN / "python"), "-m", "gunicorn", "-b", f"127.0.0.1:{app_port}",
                   "-k", "gthread", "--workers", "2", "--threads", "4",
                   "examples.warehouse.app:create_app()"]  # fmt: skip
        locust_cmd = [str(BIN / "locust"), "-f", "examples/warehouse/locustfile.py",
                      "--headless", "--host", f"http://127.0.0.1:{app_port}", "-u", str(users),
                      "-r", str(users), "-t", f"{seconds}s", "--only-summary",
                      "--loglevel", "WARNING", "--csv", str(work / "locust")]  # fmt: skip
        with running(stub_cmd, work / "servers.log", env) as stub, \
                running(app_cmd, work / "servers.log", env) as app:  # fmt: skip
            wait_http(f"http://127.0.0.1:{stub_port}/products?sku=warmup", stub)
            wait_http(f"http://127.0.0.1:{app_port}/health", app)  # no database call
            time.sleep(1.5)  # the collector has written what came before
            window: dict = {"start_utc": utc(), "load_avg_start": os.getloadavg()[0]}
            before = pgss(obs)
            offsets = {k: p.stat().st_size for k, p in logs.items()}
            did: dict = {}
            worker = threading.Thread(target=lambda: did.update(
                side(db_url, cl.port, cl.dsn(dbname="warehouse"))))  # fmt: skip
            began = time.monotonic()
            load = subprocess.Popen(locust_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)  # fmt: skip
            time.sleep(seconds / 3)
            worker.start()
            worker.join(timeout=60)
            _, err = load.communicate(timeout=seconds + 60)
            if load.returncode not in (0, 1) or worker.is_alive() or "ended_utc" not in did:
                raise RuntimeError(f"load failed ({load.returncode}): {err[-2000:]} {did}")
            load_s = time.monotonic() - began
            time.sleep(2.0)  # the app is idle; the collector writes the last messages
            after = pgss(obs)
            ends = {k: p.stat().st_size for k, p in logs.items()}
            time.sleep(1.0)
            if pgss(obs) != after:
                raise RuntimeError("pg_stat_statements moved after the window's end")
            window |= {"end_utc": utc(), "load_avg_end": os.getloadavg()[0],
                       "load_s": round(load_s, 1)}  # fmt: skip
        version = obs.execute("SELECT version()").fetchone()[0]
        settings = dict(obs.execute("SELECT name, setting FROM pg_settings "
                                    "WHERE source = 'configuration file' ORDER BY name").fetchall())
        obs.close()
        stats = (work / "locust_stats.csv").read_text().splitlines()
        requests = next(int(line.split(",")[2]) for line in stats if ",Aggregated," in line)
        cl.stop("fast")
        statements = deltas(before, after)
        for name, path in logs.items():
            stored = OUT / name / (path.name + ".gz")
            with open(path, "rb") as src, gzip.open(stored, "wb", compresslevel=9) as dst:
                shutil.copyfileobj(src, dst)
            truth = {
                "postgresql": version,
                "log_file": stored.name,
                "window": {**window, "start_log_offset": offsets[name],
                           "end_log_offset": ends[name]},
                "window_note": (
                    "pg_stat_statements read by the observer (neither logged nor tracked) at "
                    "start_utc and end_utc, with the app idle and no other client; the log's "
                    "bytes [start_log_offset, end_log_offset) were written in between (file "
                    "sizes, from outside the log; pg_stat_statements did not move in the "
                    "second after the end)."),
                "pg_stat_statements": statements,
                "pg_stat_statements_note": (
                    "after minus before per (queryid, userid, dbid, toplevel), entries whose "
                    "calls moved; track = all, track_planning = on; times in ms. "
                    "total_exec_time is executor time, total_plan_time planning; a logged "
                    "duration covers one protocol message (parse, bind or execute) or one "
                    "simple query."),
                "load": {"locust": locust_cmd[1:], "requests": requests, "users": users,
                         "seconds": seconds,
                         "app": "gunicorn -k gthread --workers 2 --threads 4 "
                                "examples.warehouse.app:create_app() (baseline)"},
                "side": did,
                "settings": settings,
            }
            (OUT / name / "truth.json").write_text(json.dumps(truth, indent=1, default=str) + "\n")
            print(f"{name}: {stored} {stored.stat().st_size} bytes, window "
                  f"{ends[name] - offsets[name]} bytes", flush=True)  # fmt: skip
        (OUT / "stderr" / "log_line_prefix.txt").write_text(PREFIX + "\n")
        print(f"{requests} requests, {len(statements)} pg_stat_statements entries moved")
    finally:
        cl.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="Locust's -t")
    parser.add_argument("--users", type=int, default=15)
    args = parser.parse_args()
    record(args.seconds, args.users)


if __name__ == "__main__":
    main()
