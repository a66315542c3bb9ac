"""Re-record the PostgreSQL 15 server logs of tests/data/wild/pg_log with their truth.

    .venv/bin/python tests/data/wild/pg_log/record.py [--only stderr_default,plans_pair]

Each run starts a throw-away cluster (perfkit.sandbox.postgres.Cluster, 127.0.0.1, a free
port), runs a workload, and writes `<run>/server.log` (or `server.csv`/`server.json`),
`<run>/settings.conf` (the postgresql.conf lines the run added) and `<run>/truth.json`. The truth
comes from outside the log: pg_stat_statements / pg_stat_database / pg_stat_bgwriter /
pg_stat_all_tables read by an "observer" session whose own statements are neither logged nor
tracked (`-c log_min_duration_statement=-1 -c pg_stat_statements.track=none`), and from what the
recorder did (pids from the protocol, exceptions' SQLSTATEs, wall-clock waits). Every wait is
bounded. At the end a rough regex check of the log against pg_stat_statements is printed (console
only; it is not the truth).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import io
import json
import re
import shutil
import sys
import threading
import time
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[3]))
from perfkit.sandbox.postgres import Cluster  # noqa: E402

MAX_PLAIN = 300_000  # bytes; larger logs are stored gzipped

COMMON = (
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
    "autovacuum_naptime = '1s'",
    "pg_stat_statements.track_planning = on",
)
EXPLAIN_TEXT = (
    "shared_preload_libraries = 'pg_stat_statements,auto_explain'",
    "auto_explain.log_min_duration = 0",
    "auto_explain.log_analyze = on",
    "auto_explain.log_format = 'text'",
)
COLLECTOR = (
    "logging_collector = on",
    "log_directory = 'log'",
    "log_filename = 'postgresql.log'",
)
RUNS = {
    "stderr_default": (
        "log_destination = 'stderr'",
        "log_line_prefix = '%m [%p] '",
        *COMMON,
        "shared_preload_libraries = 'pg_stat_statements'",
    ),
    "stderr_prefix": (
        "log_destination = 'stderr'",
        "log_line_prefix = '%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h '",
        *COMMON,
        *EXPLAIN_TEXT,
    ),
    "csvlog": ("log_destination = 'csvlog'", *COLLECTOR, *COMMON, *EXPLAIN_TEXT),
    "jsonlog": (
        "log_destination = 'jsonlog'",
        *COLLECTOR,
        *COMMON,
        *EXPLAIN_TEXT[:-1],
        "auto_explain.log_format = 'json'",
    ),
}
SUFFIX = {"stderr_default": "log", "stderr_prefix": "log", "csvlog": "csv", "jsonlog": "json"}

OBSERVER_OPTIONS = (
    "-c log_min_duration_statement=-1 -c pg_stat_statements.track=none "
    "-c auto_explain.log_min_duration=-1"
)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Recorder:
    """One cluster, one observer, the recorder's own bookkeeping."""

    def __init__(self, cluster: Cluster, log_path: Path) -> None:
        self.cl = cluster
        self.log_path = log_path
        self.actions: list[dict] = []
        self.connections: list[dict] = []
        self.obs = self.observer("postgres")
        self.obs_template1 = self.observer("template1")  # autovacuum visits template1 too

    def close(self) -> None:
        self.obs.close()
        self.obs_template1.close()

    def observer(self, dbname: str) -> psycopg.Connection:
        conn = psycopg.connect(
            self.cl.dsn(dbname=dbname),
            autocommit=True,
            application_name="perfkit-observer",
            options=OBSERVER_OPTIONS,
        )
        conn.execute("SELECT pg_stat_force_next_flush()")  # its own session counted now
        time.sleep(0.2)
        return conn

    def connect(self, app: str) -> psycopg.Connection:
        conn = psycopg.connect(self.cl.dsn(), autocommit=True, application_name=app)
        self.connections.append({"application_name": app, "pid": conn.info.backend_pid})
        return conn

    def act(self, what: str, **extra: object) -> None:
        self.actions.append({"utc": utc(), "what": what, **extra})

    def q(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.obs.execute(sql, params).fetchall()

    def wait_until(self, test, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if test():
                return True
            time.sleep(0.02)
        return False

    def waiting_on_lock(self, pid: int) -> bool:
        rows = self.q("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,))
        return bool(rows) and rows[0][0] == "Lock"

    def no_backends(self, app_like: str) -> bool:
        rows = self.q(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s", (app_like,)
        )
        return rows[0][0] == 0

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def snapshot(self) -> dict:
        self.q("SELECT pg_stat_clear_snapshot()")
        db = self.q(
            "SELECT sessions, sessions_abandoned, sessions_fatal, sessions_killed, deadlocks,"
            " temp_files, temp_bytes, xact_commit, xact_rollback"
            " FROM pg_stat_database WHERE datname = 'postgres'"
        )[0]
        keys = [
            "sessions",
            "sessions_abandoned",
            "sessions_fatal",
            "sessions_killed",
            "deadlocks",
            "temp_files",
            "temp_bytes",
            "xact_commit",
            "xact_rollback",
        ]
        bg = self.q("SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter")[0]
        tables = []
        for conn in (self.obs, self.obs_template1):
            conn.execute("SELECT pg_stat_clear_snapshot()")
            tables += conn.execute(
                "SELECT current_database() || '.' || schemaname || '.' || relname,"
                " autovacuum_count, autoanalyze_count, vacuum_count, analyze_count"
                " FROM pg_stat_all_tables"
            ).fetchall()
        return {
            "database": dict(zip(keys, db, strict=True)),
            "checkpoints_timed": bg[0],
            "checkpoints_req": bg[1],
            "tables": {t[0]: list(t[1:]) for t in tables},
        }

    def pgss(self) -> list[dict]:
        rows = self.q(
            "SELECT s.queryid::text, s.query, s.calls, s.total_exec_time, s.plans,"
            " s.total_plan_time, s.rows, s.min_exec_time, s.max_exec_time, s.mean_exec_time,"
            " s.temp_blks_written, s.toplevel, r.rolname, d.datname"
            " FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
            " JOIN pg_database d ON d.oid = s.dbid ORDER BY s.total_exec_time DESC"
        )
        keys = [
            "queryid",
            "query",
            "calls",
            "total_exec_time",
            "plans",
            "total_plan_time",
            "rows",
            "min_exec_time",
            "max_exec_time",
            "mean_exec_time",
            "temp_blks_written",
            "toplevel",
            "user",
            "database",
        ]
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def stable(self) -> tuple[dict, int]:
        """A snapshot and the log's size with no autovacuum/checkpoint moving in between.

        A counter moves just before its log line is written, so a snapshot taken before the
        size and equal to one taken after it counts exactly the lines before that size.
        """
        for _ in range(50):
            first = self.snapshot()
            time.sleep(0.2)
            size = self.log_size()
            time.sleep(0.2)
            if self.snapshot() == first:
                return first, size
        raise RuntimeError("statistics kept moving")

    def begin_window(self) -> dict:
        self.act("load average at the window's start", loadavg=loadavg())
        self.q("SELECT pg_stat_statements_reset()")
        self.window = {"start_utc": utc()}
        time.sleep(0.5)  # the earlier messages reach the file (the collector is asynchronous)
        before, self.window["start_log_offset"] = self.stable()
        return before

    def end_window(self, before: dict) -> tuple[dict, list[dict], dict]:
        self.wait_until(lambda: self.no_backends("perfkit-w%") and self.no_backends("pgbench"))
        time.sleep(1.0)  # exiting backends flush their statistics
        self.window["end_utc"] = utc()
        statements = self.pgss()
        after, self.window["end_log_offset"] = self.stable()
        self.act("load average at the window's end", loadavg=loadavg())
        delta = {
            "database": {
                k: after["database"][k] - before["database"][k] for k in before["database"]
            },
            "checkpoints_timed": after["checkpoints_timed"] - before["checkpoints_timed"],
            "checkpoints_req": after["checkpoints_req"] - before["checkpoints_req"],
            "tables": {},
        }
        names = ("autovacuum_count", "autoanalyze_count", "vacuum_count", "analyze_count")
        for table, values in after["tables"].items():
            old = before["tables"].get(table, [0, 0, 0, 0])
            moved = {n: a - b for n, a, b in zip(names, values, old, strict=True) if a != b}
            if moved:
                delta["tables"][table] = moved
        return self.window, statements, delta

    def settings(self) -> dict:
        rows = self.q(
            "SELECT name, setting, unit FROM pg_settings WHERE source = 'configuration file'"
            " ORDER BY name"
        )
        return {name: setting + (f" ({unit})" if unit else "") for name, setting, unit in rows}


def pgbench(rec: Recorder, *args: str) -> dict:
    """Run pgbench; its sessions are counted by pg_stat_database around the run."""
    rec.q("SELECT pg_stat_clear_snapshot()")
    before = rec.q("SELECT sessions FROM pg_stat_database WHERE datname = 'postgres'")[0][0]
    started = utc()
    out = rec.cl.pgbench(*args)
    rec.wait_until(lambda: rec.no_backends("pgbench"))
    time.sleep(0.3)
    rec.q("SELECT pg_stat_clear_snapshot()")
    after = rec.q("SELECT sessions FROM pg_stat_database WHERE datname = 'postgres'")[0][0]
    tps = re.search(r"tps = ([\d.]+)", out)
    txns = re.search(r"number of transactions actually processed: (\d+)", out)
    run = {
        "args": ["pgbench", *args],
        "started_utc": started,
        "ended_utc": utc(),
        "sessions": after - before,
        "transactions": int(txns.group(1)) if txns else None,
        "tps": float(tps.group(1)) if tps else None,
    }
    rec.act("pgbench", **run)
    return run


def lock_wait(rec: Recorder, hold_s: float = 0.5) -> dict:
    holder = rec.connect("perfkit-w-lock-holder")
    waiter = rec.connect("perfkit-w-lock-waiter")
    holder_sql = "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 1"
    waiter_sql = "UPDATE pgbench_accounts SET abalance = abalance - 1 WHERE aid = 1"
    holder.execute("BEGIN")
    holder.execute(holder_sql)
    hp, wp = holder.info.backend_pid, waiter.info.backend_pid
    xid = rec.q("SELECT backend_xid::text FROM pg_stat_activity WHERE pid = %s", (hp,))[0][0]
    done: dict = {}

    def run() -> None:
        waiter.execute(waiter_sql)
        done["t"] = time.monotonic()

    t0 = time.monotonic()
    thread = threading.Thread(target=run)
    thread.start()
    seen = rec.wait_until(lambda: rec.waiting_on_lock(wp), 5)
    time.sleep(hold_s)
    holder.execute("COMMIT")
    t_commit = time.monotonic()
    thread.join(10)
    holder.close()
    waiter.close()
    event = {
        "holder_pid": hp,
        "holder_statement": holder_sql,
        "holder_xid": xid,
        "waiter_pid": wp,
        "waiter_statement": waiter_sql,
        "waiter_seen_waiting_on_lock": seen,
        "lock": f"ShareLock on transaction {xid} (row aid=1 of pgbench_accounts)",
        "wait_ms_recorder": round((done["t"] - t0) * 1000, 1),
        "hold_after_wait_seen_ms": round(hold_s * 1000),
        "commit_to_waiter_done_ms": round((done["t"] - t_commit) * 1000, 1),
    }
    rec.act("lock_wait", **event)
    return event


def deadlock(rec: Recorder) -> dict:
    a = rec.connect("perfkit-w-deadlock-a")
    b = rec.connect("perfkit-w-deadlock-b")
    ap, bp = a.info.backend_pid, b.info.backend_pid
    sql = "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = %d"
    a.execute("BEGIN")
    a.execute(sql % 11)
    b.execute("BEGIN")
    b.execute(sql % 12)
    xids = dict(
        rec.q("SELECT pid, backend_xid::text FROM pg_stat_activity WHERE pid IN (%s, %s)", (ap, bp))
    )
    errors: dict = {}

    def run_a() -> None:
        try:
            a.execute(sql % 12)
        except psycopg.Error as e:
            errors[ap] = e

    thread = threading.Thread(target=run_a)
    thread.start()
    rec.wait_until(lambda: rec.waiting_on_lock(ap), 5)
    time.sleep(0.3)  # a's deadlock check (after deadlock_timeout) finds no cycle yet
    try:
        b.execute(sql % 11)
    except psycopg.Error as e:
        errors[bp] = e
    if bp in errors:
        b.execute("ROLLBACK")
    thread.join(10)
    if ap in errors:
        a.execute("ROLLBACK")
    else:
        a.execute("COMMIT")
    if bp not in errors:
        b.execute("COMMIT")
    a.close()
    b.close()
    victims = {
        pid: {"sqlstate": e.diag.sqlstate, "message": e.diag.message_primary}
        for pid, e in errors.items()
    }
    event = {
        "pids": [ap, bp],
        "xids": {str(k): v for k, v in xids.items()},
        "statements": {
            str(ap): [sql % 11, sql % 12],
            str(bp): [sql % 12, sql % 11],
        },
        "victims": {str(k): v for k, v in victims.items()},
    }
    rec.act("deadlock", **event)
    return event


def temp_file(rec: Recorder) -> dict:
    c = rec.connect("perfkit-w-tempfile")
    pid = c.info.backend_pid
    sql = (
        "SELECT aid, abalance FROM pgbench_accounts ORDER BY filler DESC, aid LIMIT 5 OFFSET 99990"
    )
    c.execute("SET work_mem = '64kB'")
    rows = c.execute(sql).fetchall()
    c.execute("RESET work_mem")
    c.close()
    event = {"pid": pid, "statement": sql, "work_mem": "64kB", "rows": len(rows)}
    rec.act("temp_file", **event)
    return event


def failures(rec: Recorder) -> list[dict]:
    c = rec.connect("perfkit-w-errors")
    out = []
    for sql, params in (("SELECT 1/0", None), ("SELECT * FROM no_such_table WHERE id = %s", [42])):
        try:
            c.execute(sql, params)
        except psycopg.Error as e:
            out.append(
                {
                    "pid": c.info.backend_pid,
                    "statement_sent": sql.replace("%s", "$1"),
                    "parameters": params,
                    "protocol": "extended" if params else "simple",
                    "sqlstate": e.diag.sqlstate,
                    "message": e.diag.message_primary,
                    "severity": e.diag.severity_nonlocalized,
                }
            )
    c.close()
    rec.act("errors", events=out)
    return out


PASSWORD_STATEMENTS = (
    "CREATE ROLE perfkit_app LOGIN PASSWORD 'hunter2'",
    "ALTER ROLE perfkit_app PASSWORD 'hunter2'",
    "SELECT 'password=hunter2' AS dsn",
)
MULTILINE = (
    "SELECT b.bid,\n"
    "       count(t.tid) AS tellers, -- a comment on line 2\n"
    "       sum(t.tbalance) AS balance\n"
    "  FROM pgbench_branches b\n"
    "  JOIN pgbench_tellers t ON t.bid = b.bid\n"
    " GROUP BY b.bid\n"
    " ORDER BY b.bid"
)
MULTILINE_LITERAL = "SELECT 'line one\nline two' AS two_lines"
MULTILINE_PARAMS = "SELECT aid,\n       abalance\n  FROM pgbench_accounts\n WHERE aid = %s"


def misc(rec: Recorder) -> dict:
    c = rec.connect("perfkit-w-misc")
    pid = c.info.backend_pid
    for sql in PASSWORD_STATEMENTS:
        c.execute(sql)
    c.execute(MULTILINE).fetchall()
    c.execute(MULTILINE_LITERAL).fetchall()
    c.execute(MULTILINE_PARAMS, [7]).fetchall()
    c.execute("CHECKPOINT")
    c.close()
    event = {
        "pid": pid,
        "password_statements": list(PASSWORD_STATEMENTS),
        "multiline_statements": [
            {"text": MULTILINE, "protocol": "simple"},
            {"text": MULTILINE_LITERAL, "protocol": "simple"},
            {
                "text": MULTILINE_PARAMS.replace("%s", "$1"),
                "protocol": "extended",
                "parameters": [7],
            },
        ],
        "checkpoint_statements": 1,
    }
    rec.act("misc", **event)
    return event


def log_file(cl: Cluster, name: str) -> Path:
    if SUFFIX[name] == "log":
        return cl.root / "server.log"
    return cl.data / "log" / f"postgresql.{SUFFIX[name]}"


def store(src: Path, dest: Path) -> Path:
    data = src.read_bytes()
    if len(data) > MAX_PLAIN:
        dest = dest.with_name(dest.name + ".gz")
        with gzip.open(dest, "wb", compresslevel=9) as out:
            out.write(data)
    else:
        dest.write_bytes(data)
    return dest


def record_run(name: str, long: bool) -> None:
    out = HERE / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    settings = RUNS[name]
    (out / "settings.conf").write_text("\n".join(settings) + "\n")
    cl = Cluster(preload=False, settings=settings)
    try:
        seconds = "8" if long else "3"
        init = cl.pgbench("-i", "-s", "1")
        cl.psql("CREATE EXTENSION pg_stat_statements")
        rec = Recorder(cl, log_file(cl, name))
        rec.act("pgbench -i -s 1 (before the window)", output_tail=init.strip().splitlines()[-1])
        before = rec.begin_window()
        runs = [
            pgbench(rec, "-c", "4", "-T", seconds, "-R", "20", "-M", "simple"),
            pgbench(rec, "-c", "4", "-T", seconds, "-R", "10", "-M", "prepared"),
        ]
        events = {
            "lock_wait": lock_wait(rec),
            "deadlock": deadlock(rec),
            "temp_file": temp_file(rec),
            "errors": failures(rec),
            "misc": misc(rec),
        }
        window, statements, delta = rec.end_window(before)
        settings_seen = rec.settings()
        version = rec.q("SELECT version()")[0][0]
        rec.close()
        cl.stop("fast")
        time.sleep(0.5)
        psycopg_sessions = len(rec.connections)
        pgbench_sessions = sum(r["sessions"] for r in runs)
        truth = {
            "postgresql": version,
            "log_file": None,
            "window": window,
            "window_note": (
                "pg_stat_statements was reset at start_utc (by the observer, whose statements"
                " are neither logged nor tracked) and read at end_utc; the log's bytes"
                " [start_log_offset, end_log_offset) were written in between (file sizes,"
                " from outside the log, each taken between two equal statistics snapshots,"
                " which give stats_delta). Lines before: initdb/start-up and"
                " pgbench -i; after: the shutdown (pg_ctl stop -m fast)."
            ),
            "pg_stat_statements": statements,
            "pg_stat_statements_note": (
                "track = all, track_planning = on; texts normalised by PostgreSQL 15 ($n), except"
                " utility statements (ALTER/CREATE ROLE keep their literal). Statements that failed"
                " (errors) are not in it. Log durations cover parse+plan+execute per message;"
                " total_exec_time is executor time only, total_plan_time planning."
            ),
            "stats_delta": delta,
            "pgbench_runs": runs,
            "events": events,
            "connections": {
                "made_in_window": psycopg_sessions + pgbench_sessions,
                "by_recorder_psycopg": psycopg_sessions,
                "by_pgbench": pgbench_sessions,
                "pg_stat_database_sessions_delta": delta["database"]["sessions"],
                "disconnections_in_window": psycopg_sessions + pgbench_sessions,
                "sessions": rec.connections,
                "observer": (
                    "one session (application_name perfkit-observer) connected before the"
                    " window and disconnected after it"
                ),
            },
            "checkpoints": {
                "requested_by_CHECKPOINT": 1,
                "pg_stat_bgwriter_checkpoints_req_delta": delta["checkpoints_req"],
                "pg_stat_bgwriter_checkpoints_timed_delta": delta["checkpoints_timed"],
                "after_window": "one shutdown checkpoint (pg_ctl stop -m fast)",
            },
            "temp_files": {
                "pg_stat_database_temp_files_delta": delta["database"]["temp_files"],
                "pg_stat_database_temp_bytes_delta": delta["database"]["temp_bytes"],
                "statement": events["temp_file"]["statement"],
            },
            "deadlocks": {"pg_stat_database_deadlocks_delta": delta["database"]["deadlocks"]},
            "autovacuum": {
                t: v
                for t, v in delta["tables"].items()
                if "autovacuum_count" in v or "autoanalyze_count" in v
            },
            "settings": settings_seen,
            "actions": rec.actions,
        }
        stored = store(log_file(cl, name), out / f"server.{SUFFIX[name]}")
        truth["log_file"] = stored.name
        if SUFFIX[name] != "log":
            stray = cl.data / "log" / "postgresql.log"
            startup = cl.root / "server.log"
            truth["other_files"] = {
                "collector_stderr_file": stray.read_text(errors="replace")
                if stray.exists()
                else None,
                "pg_ctl_l_server_log": startup.read_text(errors="replace"),
            }
        (out / "truth.json").write_text(json.dumps(truth, indent=1, default=str) + "\n")
        print(f"{name}: {stored} {stored.stat().st_size} bytes", flush=True)
    finally:
        cl.close()


# --- plans_pair --------------------------------------------------------------------------

PLAN_SCRIPT = (
    "\\set aid random(1, 100000)\n"
    "\\set tid random(1, 10)\n"
    "\\set bid 1\n"
    "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n"
    "SELECT tbalance FROM pgbench_tellers WHERE tid = :tid;\n"
    "SELECT bbalance FROM pgbench_branches WHERE bid = :bid;\n"
)
PLAN_QUERIES = {  # pg_stat_statements' text -> the statement EXPLAINed for the truth
    "SELECT abalance FROM pgbench_accounts WHERE aid = $1": (
        "SELECT abalance FROM pgbench_accounts WHERE aid = 4242"
    ),
    "SELECT tbalance FROM pgbench_tellers WHERE tid = $1": (
        "SELECT tbalance FROM pgbench_tellers WHERE tid = 7"
    ),
    "SELECT bbalance FROM pgbench_branches WHERE bid = $1": (
        "SELECT bbalance FROM pgbench_branches WHERE bid = 1"
    ),
}
PLAN_SETTINGS = (
    "log_destination = 'stderr'",
    "log_line_prefix = '%m [%p] '",
    *COMMON,
    *EXPLAIN_TEXT,
)


def nodes(plan: dict) -> list[str]:
    """Pre-order node types, with the index or relation."""
    label = plan["Node Type"]
    if "Index Name" in plan:
        label += f" using {plan['Index Name']}"
    if "Relation Name" in plan:
        label += f" on {plan['Relation Name']}"
    out = [label]
    for child in plan.get("Plans", []):
        out += nodes(child)
    return out


def record_plans() -> None:
    out = HERE / "plans_pair"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "settings.conf").write_text("\n".join(PLAN_SETTINGS) + "\n")
    (out / "workload.sql").write_text(PLAN_SCRIPT)
    cl = Cluster(preload=False, settings=PLAN_SETTINGS)
    summary: dict = {"runs": {}}
    try:
        script = cl.root / "workload.sql"
        script.write_text(PLAN_SCRIPT)
        script.chmod(0o644)
        cl.pgbench("-i", "-s", "1", "-I", "dtgv")
        cl.psql(
            "ALTER TABLE pgbench_branches ADD PRIMARY KEY (bid);"
            " ALTER TABLE pgbench_tellers ADD PRIMARY KEY (tid);"
            " CREATE INDEX pgbench_accounts_aid ON pgbench_accounts (aid);"
            " CREATE EXTENSION pg_stat_statements;"
        )
        cl.psql("VACUUM ANALYZE")
        cl.stop("fast")
        (cl.root / "server.log").unlink()  # set-up log: not kept
        for phase in ("base", "base_again", "cand"):
            cl.start()
            if phase == "cand":
                cl.psql("DROP INDEX pgbench_accounts_aid")
            rec = Recorder(cl, cl.root / "server.log")
            before = rec.begin_window()
            run = pgbench(
                rec, "-n", "-f", str(script), "-c", "2", "-T", "4", "-R", "20", "-M", "simple"
            )
            window, statements, delta = rec.end_window(before)
            plans = {}
            for query, example in PLAN_QUERIES.items():
                sql = "EXPLAIN (FORMAT JSON) " + example
                plan = rec.q(sql)[0][0][0]["Plan"]
                plans[query] = {"explained": sql, "nodes": nodes(plan)}
            version = rec.q("SELECT version()")[0][0]
            settings_seen = rec.settings()
            rec.close()
            cl.stop("fast")
            time.sleep(0.3)
            folder = out / phase
            folder.mkdir()
            stored = store(cl.root / "server.log", folder / "server.log")
            (cl.root / "server.log").unlink()
            (folder / "settings.conf").write_text("\n".join(PLAN_SETTINGS) + "\n")
            truth = {
                "postgresql": version,
                "log_file": stored.name,
                "phase": phase,
                "index_pgbench_accounts_aid": phase != "cand",
                "window": window,
                "pg_stat_statements": statements,
                "stats_delta": delta,
                "pgbench_runs": [run],
                "plans_by_explain": plans,
                "settings": settings_seen,
                "actions": rec.actions,
            }
            (folder / "truth.json").write_text(json.dumps(truth, indent=1, default=str) + "\n")
            summary["runs"][phase] = {
                q: {
                    "nodes": p["nodes"],
                    "mean_exec_time_ms": next(
                        (s["mean_exec_time"] for s in statements if s["query"] == q), None
                    ),
                    "calls": next((s["calls"] for s in statements if s["query"] == q), None),
                }
                for q, p in plans.items()
            }
            print(f"plans_pair/{phase}: {stored} {stored.stat().st_size} bytes", flush=True)
    finally:
        cl.close()
    runs = summary["runs"]
    summary["pairs"] = {
        f"{a} -> {b}": [
            {"statement": q, "before": runs[a][q]["nodes"], "after": runs[b][q]["nodes"]}
            for q in PLAN_QUERIES
            if runs[a][q]["nodes"] != runs[b][q]["nodes"]
        ]
        for a, b in (("base", "cand"), ("base", "base_again"), ("base_again", "cand"))
    }
    summary["note"] = (
        "Plans from EXPLAIN (FORMAT JSON) run by the observer (not logged) after each window;"
        " 'pairs' lists statements whose node list changed. cand = DROP INDEX"
        " pgbench_accounts_aid (at the start of its log, before the window)."
    )
    (out / "truth.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")


# --- a rough check, console only -----------------------------------------------------------

LINE = re.compile(r"duration: ([\d.]+) ms  (statement|execute [^:]+|parse [^:]+|bind [^:]+): ")


def norm(text: str) -> str:
    text = re.sub(r"'(?:[^']|'')*'", "?", text)
    text = re.sub(r"\$\d+", "?", text)
    text = re.sub(r"-?\b\d+(?:\.\d+)?\b", "?", text)
    return re.sub(r"\s+", " ", text).strip().rstrip(";").strip()


def messages(folder: Path, truth: dict) -> list[str]:
    """The window's log messages (continuation lines joined), by format."""
    path = folder / truth["log_file"]
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    w = truth["window"]
    text = raw[w["start_log_offset"] : w["end_log_offset"]].decode(errors="replace")
    if ".csv" in path.name:
        return [row[13] for row in csv.reader(io.StringIO(text)) if len(row) > 13]
    if ".json" in path.name:
        return [json.loads(line)["message"] for line in text.splitlines() if line.strip()]
    entries: list[str] = []
    for line in text.splitlines():
        if line.startswith("\t") and entries:
            entries[-1] += "\n" + line[1:]
        else:
            entries.append(line)
    return entries


def check(folder: Path) -> None:
    """Sum the log's statement/execute durations per normalised text; compare with pgss."""
    truth = json.loads((folder / "truth.json").read_text())
    entries = messages(folder, truth)
    sums: dict[str, list[float]] = {}
    for entry in entries:
        m = LINE.search(entry)
        if not m or m.group(2).startswith(("parse", "bind")):
            continue
        key = norm(entry[m.end() :])
        sums.setdefault(key, [0, 0.0])
        sums[key][0] += 1
        sums[key][1] += float(m.group(1))
    pgss: dict[str, list[float]] = {}
    for s in truth["pg_stat_statements"]:
        row = pgss.setdefault(norm(s["query"]), [0, 0.0, 0.0])
        row[0] += s["calls"]
        row[1] += s["total_exec_time"]
        row[2] += s["total_plan_time"]
    print(f"check {folder.name}: calls log/pgss, ms log vs pgss exec+plan (exec)")
    totals = [0, 0, 0.0, 0.0, 0.0]
    for key, (calls, exe, plan) in sorted(pgss.items(), key=lambda kv: -kv[1][1]):
        n, ms = sums.pop(key, [0, 0.0])
        totals = [
            totals[0] + n,
            totals[1] + calls,
            totals[2] + ms,
            totals[3] + exe + plan,
            totals[4] + exe,
        ]
        print(f"  {n:5d} {calls:5d}  {ms:9.2f} {exe + plan:9.2f} ({exe:9.2f})  {key[:60]!r}")
    for key, (n, ms) in sums.items():
        print(f"  log only: {n} {ms:.2f} {key[:70]!r}")
    print(f"  TOTAL {totals[0]} {totals[1]}  {totals[2]:.2f} {totals[3]:.2f} ({totals[4]:.2f})")
    waits = sum("still waiting for" in e for e in entries)
    print(f"  'still waiting' messages in the window: {waits}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated run names")
    args = parser.parse_args()
    names = [*RUNS, "plans_pair"]
    chosen = args.only.split(",") if args.only else names
    for name in chosen:
        if name == "plans_pair":
            record_plans()
            for phase in ("base", "base_again", "cand"):
                check(HERE / "plans_pair" / phase)
        else:
            record_run(name, long=name == "stderr_default")
            check(HERE / name)


if __name__ == "__main__":
    main()
