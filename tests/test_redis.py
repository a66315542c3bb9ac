"""Redis: the read-only client, the snapshot store, reset-aware deltas and the cache analyses,
against a real redis-server (perfkit/sandbox/redis.py) and Redis's own counters."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import statistics
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import flask
import numpy as np
import pandas as pd
import pytest

from perfkit.analysis.cache import (
    cache_summary,
    command_deltas,
    command_table,
    hit_ratio,
    info_deltas,
    memory_pressure,
    overall_hit_ratio,
    redis_intervals,
    slow_commands,
    slow_entries,
)
from perfkit.analysis.cache.deltas import COUNTERS
from perfkit.cli import main
from perfkit.collect.redis import collect_redis
from perfkit.errors import InputError
from perfkit.io import pg_store
from perfkit.io import redis as redis_io
from perfkit.io.redis import VIEWS, read_redis, snapshot_redis
from perfkit.io.redis_wire import ReadOnlyRedis, check_read_only, parse_url, redact_url
from perfkit.sandbox.redis import Connection, Server

ALLOWED = [("INFO",), ("INFO", "all"), ("info", "commandstats"), ("SLOWLOG", "GET", "128"),
           ("SLOWLOG", "LEN"), ("LATENCY", "LATEST"), ("MEMORY", "STATS"),
           ("CONFIG", "GET", "maxmemory*"), ("config", "get", "maxmemory-policy")]  # fmt: skip
REFUSED = [("SET", "k", "v"), ("CONFIG", "SET", "maxmemory", "1"), ("SLOWLOG", "RESET"),
           ("CONFIG", "RESETSTAT"), ("FLUSHALL",), ("INFO", "all", "extra"),
           ("CONFIG", "GET", "requirepass"), ("CONFIG", "GET", "*"), ("SLOWLOG", "GET", "1 2"),
           ("EVAL", "return 1", "0"), ("MONITOR",), ("DEBUG", "SLEEP", "1"), ("SHUTDOWN",),
           ("MEMORY", "PURGE"), ("LATENCY", "RESET"), ("LATENCY", "LATEST", "x"),
           ("INFO", "all\r\nFLUSHALL"), ("CLIENT", "KILL", "TYPE", "normal")]  # fmt: skip


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def snap(server: Server, store: Path) -> None:
    snapshot_redis(server.url, store)


def frames(store: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return read_redis(store, "info"), read_redis(store, "commandstats")


def independent(server: Server) -> dict[str, float]:
    """Counters read by the test's own client (not perfkit's): calls per command and hits."""
    stats: dict[str, float] = defaultdict(float)  # a command never called: 0
    stats |= {f"calls:{k}": v["calls"] for k, v in server.commandstats().items()}
    stats |= {f"usec:{k}": v["usec"] for k, v in server.commandstats().items()}
    for field in ("keyspace_hits", "keyspace_misses", "evicted_keys"):
        stats[field] = float(server.stat(field))
    return stats


# ---------------------------------------------------------------- read-only, before the wire


def test_refused_commands_never_reach_the_socket():
    """A listener records every byte: refused commands raise before anything is sent."""
    received = bytearray()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def record() -> None:
        conn, _ = listener.accept()
        conn.settimeout(5)
        with conn:
            while chunk := conn.recv(4096):
                received.extend(chunk)

    thread = threading.Thread(target=record, daemon=True)
    thread.start()
    client = ReadOnlyRedis(f"redis://127.0.0.1:{port}/0")
    for command in REFUSED:
        with pytest.raises(InputError, match="read-only"):
            client.command(*command)
    client.close()
    thread.join(10)
    listener.close()
    assert bytes(received) == b""
    for command in ALLOWED:
        check_read_only(command)  # no error


def test_snapshot_sends_only_reads_seen_by_monitor(server, tmp_path):
    """Redis's own views: MONITOR shows perfkit's INFO and MEMORY STATS (Redis keeps admin
    commands such as SLOWLOG, LATENCY and CONFIG out of MONITOR), and commandstats
    before/after shows exactly one call of each of perfkit's six reads and nothing else: no
    write, no CONFIG SET, SLOWLOG RESET or CONFIG RESETSTAT."""
    server.command("SET", "k", "v")
    before = server.commandstats()  # this INFO is counted in `after`
    monitor = server.connect()
    assert monitor.command("MONITOR") == b"OK"
    snap(server, tmp_path / "store")
    seen: list[tuple[str, ...]] = []
    monitor.sock.settimeout(5)
    while not seen or seen[-1][0] != "memory":
        line = monitor.stream.readline().decode()
        seen.append(tuple(a.lower() for a in line.split("] ", 1)[1].strip().strip('"')
                          .split('" "')))  # fmt: skip
    monitor.close()
    assert seen == [("info", "all"), ("memory", "stats")]
    after = server.commandstats()
    grown = {c: after[c]["calls"] - before.get(c, {"calls": 0})["calls"] for c in after}
    assert {c: n for c, n in grown.items() if n} == {
        "info": 2, "monitor": 1, "slowlog|len": 1, "slowlog|get": 1, "latency|latest": 1,
        "memory|stats": 1, "config|get": 1}  # fmt: skip
    assert not {"config|set", "slowlog|reset", "config|resetstat", "flushall"} & set(after)
    with ReadOnlyRedis(server.url) as client:  # the client's own count of what it sent
        client.command("INFO")
        client.command("SLOWLOG", "LEN")
        assert client.sent == {"INFO": 1, "SLOWLOG LEN": 1}


# ------------------------------------------------------------------- secrets and arguments


def test_password_and_argument_values_never_stored_or_shown(tmp_path, capsys):
    secret = "s3cret-Hunter2"
    value = "tok-" + "abcdef0123" * 30  # 304 bytes, longer than the slow log keeps
    s = Server(password=secret, settings=("--slowlog-log-slower-than", "0"))
    try:
        c = s.connect()
        c.command("SET", "user:42:token", value)
        c.command("SADD", "members", *[f"member-{i}" for i in range(40)])
        store = tmp_path / "store"
        code = main(["collect", "redis", "--url", s.url, "--store", str(store), "--count", "2",
                     "--interval", "0.05", "--log-level", "info"])  # fmt: skip
        assert code == 0
        out = capsys.readouterr()
        assert secret not in out.out + out.err
        assert "password" in out.err and "PERFKIT_REDIS_URL" in out.err  # the ps warning
        assert out.err.count("INFO: snapshot ") == 2
        stored = b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())
        assert secret.encode() not in stored and b"tok-abcdef" not in stored
        assert b"member-3" not in stored and b"user:42" not in stored
        for view in VIEWS:
            assert secret not in read_redis(store, view).to_string()
        slow = slow_entries(read_redis(store, "slowlog"))
        sets = slow[slow["command"] == "SET"].iloc[0]
        assert sets["arg_count"] == 3 and list(sets["arg_bytes"]) == [3, 13, len(value)]
        sadd = slow[slow["command"] == "SADD"].iloc[0]  # Redis keeps 32 of its 42 arguments
        assert sadd["arg_count"] == 42
        assert set(slow["command"]) >= {"SET", "SADD", "CONFIG GET", "SLOWLOG GET"}
        assert len(slow) == slow[["run_id", "id"]].drop_duplicates().shape[0]
        info = read_redis(store, "info")
        held = info[info["field"] == "slowlog_len"].set_index("snapshot_time")["number"]
        fetched = read_redis(store, "slowlog").groupby("snapshot_time").size()
        assert (fetched == held + 1).all()  # SLOWLOG LEN's own entry is logged before GET
        per = slow_commands(read_redis(store, "slowlog")).set_index("command")
        assert per.loc["SET", "entries"] == 1 and per.loc["SADD", "max_args"] == 42
        kept = tmp_path / "kept"
        snapshot_redis(s.url, kept, keep_arguments=True)  # asked for: the values are there
        assert b"tok-abcdef" in b"".join(p.read_bytes() for p in kept.rglob("*.parquet"))
        wrong = s.url.replace(secret, "Wr0ngPass-xyz")
        with pytest.raises(InputError, match="authentication failed") as failed:
            snapshot_redis(wrong, tmp_path / "other")
        assert "Wr0ngPass-xyz" not in str(failed.value)
        with pytest.raises(InputError) as unreachable:
            collect_redis(f"redis://:{secret}@127.0.0.1:1/0", tmp_path / "x", retry=1,
                          say=lambda m: None, sleep=lambda s: None)  # fmt: skip
        assert secret not in str(unreachable.value) and "gave up after 2" in str(unreachable.value)
        assert main(["collect", "redis", "--url", wrong, "--store", str(tmp_path / "y")]) == 2
        assert "Wr0ngPass" not in capsys.readouterr().err
    finally:
        s.close()


def test_urls():
    assert parse_url("redis://:p%40ss@example.org:6380/2").password == "p@ss"
    address = parse_url("redis://user:pw@h/3")
    assert (address.host, address.port, address.db, address.username) == ("h", 6379, 3, "user")
    assert "pw" not in repr(address)
    assert redact_url("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
    assert redact_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    for url, why in (("rediss://:pw@h:6380/0", "not supported"), ("unix:///tmp/r.sock", "not sup"),
                     ("http://h:1/", "expected a redis"), ("redis://:pw@h:99999/0", "port"),
                     ("redis://:pw@h:1/x", "database")):  # fmt: skip
        with pytest.raises(InputError, match=why) as caught:
            parse_url(url)
        assert ":pw@" not in str(caught.value)


# --------------------------------------------------------------- counts equal Redis's own


def test_benchmark_counts_equal_redis_own(server, tmp_path):
    store = tmp_path / "store"
    snap(server, store)
    before = independent(server)
    server.benchmark("-t", "set,get", "-n", "2000", "-r", "100", "-c", "4")
    after = independent(server)
    percentiles = {line.split(":")[0].removeprefix("latency_percentiles_usec_"):
                   dict(p.split("=") for p in line.split(":")[1].split(","))
                   for line in server.command("INFO", "latencystats").decode().split("\r\n")
                   if line.startswith("latency_percentiles_usec_")}  # fmt: skip
    snap(server, store)
    info, commandstats = frames(store)
    deltas = command_deltas(info, commandstats).set_index("command")
    for command in ("get", "set"):
        assert deltas.loc[command, "calls"] == 2000  # redis-benchmark's -n
        calls = f"calls:{command}"
        assert deltas.loc[command, "calls"] == after[calls] - before[calls]
        assert deltas.loc[command, "usec"] == after[f"usec:{command}"] - before[f"usec:{command}"]
    ratio = hit_ratio(info, commandstats).iloc[0]
    assert ratio["hits"] == after["keyspace_hits"] - before["keyspace_hits"]
    assert ratio["misses"] == after["keyspace_misses"] - before["keyspace_misses"]
    assert ratio["lookups"] == 2000  # every GET looks one key up
    table = command_table(command_deltas(info, commandstats), include_perfkit=False)
    assert table.set_index("command").loc["get", "usec_per_call"] == pytest.approx(
        (after["usec:get"] - before["usec:get"]) / 2000)
    assert redis_intervals(info, commandstats)["status"].tolist() == ["ok"]
    assert (info_deltas(info, commandstats)[list(COUNTERS)] >= 0).all().all()
    with_latency = command_table(command_deltas(info, commandstats),
                                 latencystats=read_redis(store, "latencystats"))  # fmt: skip
    row = with_latency.set_index("command").loc["get"]
    assert (row["p50_usec"], row["p99_usec"], row["p99.9_usec"]) == tuple(
        float(percentiles["get"][k]) for k in ("p50", "p99", "p99.9"))  # Redis's own


class CacheApp:
    """A small Flask app (not the warehouse) caching items in Redis, counting its own
    hits and misses."""

    def __init__(self, port: int) -> None:
        self.hits = self.misses = self.gets = self.sets = 0
        self.conn = Connection(port)
        self.app = flask.Flask("cache_app")
        self.app.add_url_rule("/item/<int:i>", view_func=self.item)

    def item(self, i: int) -> dict:
        self.gets += 1
        cached = self.conn.command("GET", f"item:{i}")
        if cached is None:
            self.misses += 1
            self.sets += 1
            self.conn.command("SET", f"item:{i}", f"value-{i}")
            return {"cached": False}
        self.hits += 1
        return {"cached": True}


def test_flask_cache_pattern(server, tmp_path):
    """20 items asked 5 times each (20 misses, 80 hits), then 10 new items (10 misses)."""
    app = CacheApp(server.port)
    client = app.app.test_client()
    store = tmp_path / "store"
    snap(server, store)
    for _ in range(5):
        for i in range(20):
            assert client.get(f"/item/{i}").status_code == 200
    snap(server, store)
    for i in range(100, 110):
        client.get(f"/item/{i}")
    snap(server, store)
    info, commandstats = frames(store)
    ratios = hit_ratio(info, commandstats)
    assert ratios["hits"].tolist() == [80, 0] and ratios["misses"].tolist() == [20, 10]
    assert ratios["hit_ratio"].iloc[0] == pytest.approx(0.8)
    assert overall_hit_ratio(ratios) == pytest.approx(80 / 110)
    assert (app.hits, app.misses) == (80, 30)  # the client's own counts, over both intervals
    assert ratios["hits"].sum() == app.hits and ratios["misses"].sum() == app.misses
    assert float(server.stat("keyspace_hits")) == app.hits
    calls = command_table(command_deltas(info, commandstats)).set_index("command")["calls"]
    assert (calls["get"], calls["set"]) == (app.gets, app.sets) == (110, 30)
    assert server.commandstats()["get"]["calls"] == app.gets
    summary = cache_summary(info, commandstats, target=0.75)
    assert summary["hits"] == 80 and summary["misses"] == 30 and summary["meets"] is False
    app.conn.close()


# ------------------------------------------------------------ resets and restarts (adversarial)


def test_resetstat_counts_from_the_reset_even_when_counters_grow_back(server, tmp_path):
    """Two CONFIG RESETSTATs, the second followed by more traffic than before, so that no
    counter and no command's calls goes down: the easy rule (a reset makes a counter go
    down) misses it, and later - earlier would undercount. perfkit's deltas equal what was
    counted after each reset."""
    store = tmp_path / "store"
    snap(server, store)
    server.command("CONFIG", "RESETSTAT")
    c = server.connect()
    for i in range(20):
        c.command("SET", f"k{i}", "v" * 50)
        c.command("GET", f"k{i}")
    for i in range(5):
        c.command("GET", f"missing{i}")
    snap(server, store)
    server.command("CONFIG", "RESETSTAT")
    extra = [server.connect() for _ in range(6)]  # more connections than before the reset
    for i in range(40):
        c.command("SET", f"k{i}", "v" * 50)
    for i in range(150):
        c.command("GET", f"k{i % 40}")
    for i in range(10):
        c.command("GET", f"missing{i}")
    truth = independent(server)  # read after the traffic, before perfkit's snapshot
    snap(server, store)
    info, commandstats = frames(store)
    times = sorted(info["snapshot_time"].unique())
    wide = info[info["field"].isin(COUNTERS)].pivot_table(
        index="snapshot_time", columns="field", values="number")
    assert (wide.loc[times[2]] >= wide.loc[times[1]]).all()  # no INFO counter went down
    calls = commandstats.pivot_table(index="snapshot_time", columns="command", values="calls")
    later, earlier = (np.nan_to_num(calls.loc[t].to_numpy(dtype=float)) for t in times[2:0:-1])
    assert (later >= earlier).all()  # nor any command's calls
    intervals = redis_intervals(info, commandstats)
    assert intervals["status"].tolist() == ["reset", "reset"]
    assert "CONFIG RESETSTAT" in intervals["reason"].iloc[1]
    deltas = command_deltas(info, commandstats)
    second = deltas[deltas["interval_end"] == times[2]].set_index("command")
    assert second.loc["get", "calls"] == 160 == truth["calls:get"]  # not 160 - 25
    assert second.loc["set", "calls"] == 40 == truth["calls:set"]
    first = deltas[deltas["interval_end"] == times[1]].set_index("command")
    assert (first.loc["get", "calls"], first.loc["set", "calls"]) == (25, 20)
    ratios = hit_ratio(info, commandstats)
    assert ratios["hits"].tolist() == [20, 150] and ratios["misses"].tolist() == [5, 10]
    assert ratios["hits"].iloc[1] == truth["keyspace_hits"]
    numbers = info_deltas(info, commandstats)[list(COUNTERS)].to_numpy()
    assert np.nanmin(numbers) >= 0 and (deltas[["calls", "usec"]] >= 0).all().all()
    for conn in [c, *extra]:
        conn.close()


def test_restart_between_snapshots(server, tmp_path):
    store = tmp_path / "store"
    snap(server, store)
    for i in range(30):
        server.command("SET", f"k{i}", "v")
    snap(server, store)
    server.restart()  # no persistence: the keys are gone, the counters start again
    c = server.connect()
    for i in range(10):
        c.command("SET", f"k{i}", "v")
    for i in range(8):
        c.command("GET", f"k{i}")
    c.command("GET", "gone")
    c.close()
    truth = independent(server)
    snap(server, store)
    info, commandstats = frames(store)
    intervals = redis_intervals(info, commandstats)
    assert intervals["status"].tolist() == ["ok", "restart"]
    assert intervals["run_id"].nunique() == 2
    deltas = command_deltas(info, commandstats)
    last = deltas[deltas["status"] == "restart"].set_index("command")
    assert (last.loc["set", "calls"], last.loc["get", "calls"]) == (10, 9)
    assert last.loc["get", "calls"] == truth["calls:get"]
    assert deltas[deltas["status"] == "ok"].set_index("command").loc["set", "calls"] == 30
    ratios = hit_ratio(info, commandstats)
    assert (ratios["hits"].iloc[1], ratios["misses"].iloc[1]) == (8, 1)
    assert (deltas[["calls", "usec"]] >= 0).all().all()
    assert np.nanmin(info_deltas(info, commandstats)[list(COUNTERS)].to_numpy()) >= 0


# ----------------------------------------------------------------------- memory and evictions


def test_evictions_against_maxmemory(tmp_path):
    s = Server(settings=("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"))
    try:
        store = tmp_path / "store"
        snap(s, store)
        c = s.connect()
        for i in range(400):
            c.command("SET", f"big{i}", b"x" * 10_000)
        c.close()
        evicted = int(s.stat("evicted_keys"))
        snap(s, store)
        info, commandstats = frames(store)
        pressure = memory_pressure(info, commandstats)
        row = pressure.iloc[0]
        assert evicted > 0 and row["evicted_keys"] == evicted
        assert row["maxmemory"] == 2 * 1024 * 1024 and row["maxmemory_policy"] == "allkeys-lru"
        assert row["used_memory"] == float(s.stat("used_memory")) or 0.5 < row["used_share"] < 1.1
        assert cache_summary(info, commandstats)["evicted_keys"] == evicted
        memory = read_redis(store, "memory_stats")
        assert "keys.count" in set(memory["field"]) and "db.0.overhead.hashtable.main" in set(
            memory["field"])  # fmt: skip
    finally:
        s.close()


# ------------------------------------------------------------------------------ the store


def _digest(store: Path) -> dict[str, str]:
    return {str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.rglob("*")) if p.is_file()}  # fmt: skip


def test_interrupted_writes_leave_the_store_as_it_was(server, tmp_path, monkeypatch):
    store = tmp_path / "store"
    snap(server, store)
    kept = _digest(store)
    real = pg_store._write_parquet
    calls = []

    def stop_on_third(table, path, statistics=False):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(table, path, statistics)

    monkeypatch.setattr(pg_store, "_write_parquet", stop_on_third)
    with pytest.raises(KeyboardInterrupt):
        snap(server, store)
    monkeypatch.setattr(pg_store, "_write_parquet", real)
    assert _digest(store) == kept  # nothing added, nothing overwritten

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(redis_io, "_write_manifest", disk_full)  # after the files are renamed
    with pytest.raises(InputError, match=r"No space left.*1 earlier snapshot"):
        snap(server, store)
    monkeypatch.undo()
    assert _digest(store) == kept
    (store / "info" / "20200101T000000.000000Z.parquet").write_bytes(b"left by a killed writer")
    snap(server, store)
    assert read_redis(store, "info")["snapshot_time"].nunique() == 2
    assert not (store / "info" / "20200101T000000.000000Z.parquet").exists()
    assert all(_digest(store)[name] == digest for name, digest in kept.items()
               if name != "perfkit-store.json")  # fmt: skip


def test_bad_stores(server, tmp_path):
    with pytest.raises(InputError, match="not a Redis snapshot store"):
        read_redis(tmp_path, "info")
    store = tmp_path / "store"
    snap(server, store)
    with pytest.raises(InputError, match="view must be one of"):
        read_redis(store, "statements")
    manifest = json.loads((store / "perfkit-store.json").read_text())
    (store / "perfkit-store.json").write_text(json.dumps({**manifest, "kind": "pg_stat"}))
    with pytest.raises(InputError, match=r"perfkit-store.json: not a Redis snapshot store"):
        read_redis(store, "info")
    (store / "perfkit-store.json").write_text("{damaged")
    with pytest.raises(InputError, match="damaged store manifest"):
        read_redis(store, "info")
    (store / "perfkit-store.json").write_text(json.dumps(manifest))
    name = manifest["snapshots"][0]["name"]
    (store / "commandstats" / name).write_bytes((store / "info" / name).read_bytes())
    with pytest.raises(InputError, match=rf"commandstats/{name}: not a snapshot of"):
        read_redis(store, "commandstats")
    with pytest.raises(InputError, match="at least two snapshots"):
        redis_intervals(read_redis(store, "info"), read_redis(store, "info").iloc[:0])
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        snapshot_redis(server.url, tmp_path / "file")
    assert read_redis(store, "info", dtype_backend="pyarrow")["number"].dtype == "double[pyarrow]"


# ------------------------------------------------------------------- the overview report


def cache_run(server: Server, folder: Path, gunicorn_log) -> Path:
    """A run folder: an access log and redis/, 3 snapshots around a planted pattern: 10 items
    asked 4 times (10 misses, 30 hits), then 20 new ones (20 misses)."""
    folder.mkdir()
    writer = gunicorn_log(name=f"{folder.name}/access.log")
    for _ in range(30):
        writer.request(path="/api/products/1")
    writer.close()
    store = folder / "redis"
    app = CacheApp(server.port)
    client = app.app.test_client()
    snap(server, store)
    for _ in range(4):
        for i in range(10):
            client.get(f"/item/{i}")
    snap(server, store)
    for i in range(50, 70):
        client.get(f"/item/{i}")
    snap(server, store)
    app.conn.close()
    return store


def test_overview_cache_section_agrees_with_the_api(server, tmp_path, gunicorn_log):
    from perfkit.report.evidence import load_run
    from perfkit.report.overview import overview_report

    folder = tmp_path / "run"
    store = cache_run(server, folder, gunicorn_log)
    info, commandstats = frames(store)
    slowlog = read_redis(store, "slowlog")
    expected = cache_summary(info, commandstats, slowlog, target=0.9)
    assert (expected["hits"], expected["misses"]) == (30, 30)  # planted: 30 of 60 lookups hit
    report = overview_report(folder)
    assert report.summary()["cache"] == expected
    pd.testing.assert_frame_equal(report.cache["hit_ratio"], hit_ratio(info, commandstats))
    assert report.cache["hit_ratio"]["hit_ratio"].round(3).tolist() == [0.75, 0.0]
    assert "hit ratio 50.0% (30 hits, 30 misses) **misses** its 90% target" in (
        report.verdict().data)
    for name in ("hit_ratio", "commands", "slow", "memory"):
        shown = report.cache_table(name)
        assert shown._repr_html_() if hasattr(shown, "_repr_html_") else shown.data
    trust = load_run(folder).trust(notes=False).set_index("source")
    assert trust.loc["Redis statistics", "records"] == 3
    assert "2 intervals" in trust.loc["Redis statistics", "note"]
    assert trust.loc["Redis statistics", "files"] == "redis"


@pytest.mark.slow
def test_overview_notebook_shows_the_api_numbers(server, tmp_path, gunicorn_log):
    """`perfkit report overview` end to end (papermill): the page and its JSON summary carry
    the numbers of `cache_summary`."""
    from perfkit.report.run import run_report

    store = cache_run(server, tmp_path / "run", gunicorn_log)
    expected = cache_summary(*frames(store), read_redis(store, "slowlog"), target=0.4)
    html, summary = tmp_path / "overview.html", tmp_path / "overview.json"
    run_report("overview", {"run": str(tmp_path / "run"), "cache_hit_ratio": 0.4}, html, summary)
    page = html.read_text()
    assert "Cache (Redis)" in page and "hit ratio 50.0% (30 hits, 30 misses) meets its 40%" in page
    assert json.loads(summary.read_text())["cache"] == expected


def test_overview_without_redis_says_so(tmp_path, gunicorn_log):
    from perfkit.report.overview import overview_report

    writer = gunicorn_log()
    writer.request(path="/health")
    writer.close()
    report = overview_report(tmp_path)
    assert report.summary()["cache"] is None
    assert "No Redis statistics in this run" in report.cache_table().data


# --------------------------------------------------------------- the warehouse app's cache


SMALL_SEED = """
insert into products (id, sku, name, category, price_cents, weight_g)
select i, 'SKU-' || lpad(i::text, 6, '0'), 'Product ' || i, 'tools', 100 + i, 50 + i
from generate_series(1, 300) i;
insert into orders (id, customer, status, created_at)
select i, 'customer-' || i, 'new', now() - (i % 120) * interval '1 day'
from generate_series(1, 2000) i;
insert into order_lines (id, order_id, product_id, quantity, price_cents)
select i, 1 + (i % 2000), 1 + (i % 300), 1 + (i % 5), 199 from generate_series(1, 20000) i;
analyze;
"""


@pytest.fixture(scope="module")
def warehouse_db(pg):
    """The warehouse schema with a small deterministic data set (300 products, 20,000 order
    lines: the cache's behaviour, not the database's size, is under test)."""
    from sqlalchemy import create_engine

    from examples.warehouse.models import Base

    pg.psql("drop database if exists warehouse_redis")
    pg.psql("create database warehouse_redis")
    url = f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/warehouse_redis"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    raw = engine.raw_connection()
    with raw.cursor() as cursor:
        cursor.execute(SMALL_SEED)
    raw.commit()
    raw.close()
    engine.dispose()
    return url


def _warehouse(monkeypatch, db: str, url: str | None, mode: str | None):
    from examples.warehouse.app import create_app

    monkeypatch.setenv("WAREHOUSE_DB", db)
    monkeypatch.setenv("WAREHOUSE_SCENARIO", "baseline")
    for name, value in (("WAREHOUSE_REDIS_URL", url), ("WAREHOUSE_CACHE", mode)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return create_app()


def _lookups(client, ids) -> tuple[list[dict], list[float]]:
    bodies, times = [], []
    for i in ids:
        started = time.perf_counter()
        answer = client.get(f"/api/products/{i}")
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200
        bodies.append(answer.get_json())
    return bodies, times


def test_warehouse_cache_cold_warm_off(server, warehouse_db, monkeypatch, tmp_path):
    ids = range(1, 41)
    plain = _warehouse(monkeypatch, warehouse_db, None, None)  # no URL: as before, no Redis
    assert plain.extensions["warehouse_cache"] is None
    expected, _ = _lookups(plain.test_client(), ids)
    assert plain.test_client().get("/api/products/999999").status_code == 404

    store = tmp_path / "cold"
    cold = _warehouse(monkeypatch, warehouse_db, server.url, "cold")
    client = cold.test_client()
    snap(server, store)
    first, miss_times = _lookups(client, ids)
    snap(server, store)
    second, hit_times = _lookups(client, ids)
    snap(server, store)
    assert first == second == expected  # the cache gives what the database gives
    ratios = hit_ratio(*frames(store))
    assert ratios["hit_ratio"].tolist() == [0.0, 1.0]  # planted: 40 misses, then 40 hits
    assert ratios["lookups"].tolist() == [40, 40]
    cache = cold.extensions["warehouse_cache"]
    assert (cache.hits, cache.misses, cache.errors) == (40, 40, 0)
    assert statistics.median(hit_times) < statistics.median(miss_times)

    server.command("FLUSHALL")
    store = tmp_path / "on"
    snap(server, store)
    warm = _warehouse(monkeypatch, warehouse_db, server.url, "on")  # warmed at start
    assert int(server.command("DBSIZE")) == 301  # every product and the marker
    bodies, _ = _lookups(warm.test_client(), ids)
    snap(server, store)
    assert bodies == expected
    assert hit_ratio(*frames(store))["hit_ratio"].tolist() == [1.0]

    store = tmp_path / "off"
    snap(server, store)
    off = _warehouse(monkeypatch, warehouse_db, server.url, "off")
    bodies, _ = _lookups(off.test_client(), ids)
    snap(server, store)
    assert bodies == expected
    info, commandstats = frames(store)
    assert hit_ratio(info, commandstats)["lookups"].tolist() == [0]
    assert not {"get", "set"} & set(command_deltas(info, commandstats)["command"])
    os.environ.pop("WAREHOUSE_REDIS_URL", None)


# ------------------------------------------------------------------- recorded store (no server)

WILD = Path(__file__).parent / "data" / "wild" / "redis"


def test_recorded_store_against_its_truth():
    """tests/data/wild/redis: a benchmark, a CONFIG RESETSTAT and a restart, with the counts
    read independently before each snapshot (truth.json)."""
    truth = json.loads((WILD / "truth.json").read_text())["snapshots"]
    info, commandstats = frames(WILD / "store")
    intervals = redis_intervals(info, commandstats)
    assert intervals["status"].tolist() == ["ok", "reset", "restart"]
    deltas = command_deltas(info, commandstats)
    ratios = hit_ratio(info, commandstats)
    ends = intervals["interval_end"].tolist()
    for k, end in enumerate(ends, start=1):
        now, before = truth[k]["calls_before_snapshot"], truth[k - 1]["calls_before_snapshot"]
        got = deltas[deltas["interval_end"] == end].set_index("command")["calls"]
        for command in ("get", "set", "incr", "lpush"):
            if command not in now:
                continue
            expected = now[command] - (before.get(command, 0) if k == 1 else 0)
            assert got[command] == expected, (k, command)
        hits = truth[k]["keyspace_hits"] - (truth[k - 1]["keyspace_hits"] if k == 1 else 0)
        assert ratios["hits"].iloc[k - 1] == hits
    assert deltas[deltas["command"] == "get"]["calls"].tolist() == [5000, 3000, 2000]
    assert read_redis(WILD / "store", "info")["run_id"].nunique() == 2
    older = info[info["section"] != "perfkit"]  # a store written before the "sent" rows
    assert redis_intervals(older, commandstats)["status"].tolist() == ["ok", "reset", "restart"]


def test_cli_url_from_the_environment(server, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PERFKIT_REDIS_URL", raising=False)
    assert main(["collect", "redis", "--store", str(tmp_path / "s")]) == 2
    assert "PERFKIT_REDIS_URL" in capsys.readouterr().err
    monkeypatch.setenv("PERFKIT_REDIS_URL", server.url)
    assert main(["collect", "redis", "--store", str(tmp_path / "s"), "--count", "2",
                 "--interval", "0.01", "-q"]) == 0  # fmt: skip
    assert capsys.readouterr().err == ""  # no password, nothing to warn about
    assert read_redis(tmp_path / "s", "info")["snapshot_time"].nunique() == 2
    monkeypatch.setenv("PERFKIT_REDIS_URL", "rediss://:pw@127.0.0.1:1/0")
    assert main(["collect", "redis", "--store", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "rediss:// is not supported" in err and ":pw@" not in err


@pytest.mark.parametrize(("answer", "why"), [
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "not a Redis reply"),
    (b"$99999999999\r\n", "larger than"),
    (b"*1\r\n" * 20 + b":1\r\n", "nested too deep"),
    (b"$10\r\nabc", "closed mid-reply"),
    (b"*abc\r\n", "not a Redis reply"),
    (b"-NOPERM this user has no permissions to run the 'info' command\r\n", "NOPERM"),
])  # fmt: skip
def test_a_server_that_is_not_redis(tmp_path, answer, why):
    """Whatever answers on the port, snapshot_redis raises InputError and writes nothing."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_once() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(answer)

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()
    with pytest.raises(InputError, match=why):
        snapshot_redis(f"redis://127.0.0.1:{port}/0", tmp_path / "store")
    thread.join(10)
    listener.close()
    assert not (tmp_path / "store").exists()


def test_an_acl_without_admin_commands(server, tmp_path):
    """A user without @admin (SLOWLOG, LATENCY, CONFIG refused, as on managed Redis): the
    views they feed are empty with a warning, intervals are not taken for resets, and a real
    CONFIG RESETSTAT is still seen through the commands that did answer."""
    from perfkit.errors import PerfkitWarning

    server.command("ACL", "SETUSER", "reader", "on", ">reader-pw", "~*", "+@all", "-@admin")
    url = f"redis://reader:reader-pw@127.0.0.1:{server.port}/0"
    store = tmp_path / "store"
    c = server.connect()
    for step in range(3):
        with pytest.warns(PerfkitWarning, match=r"refused SLOWLOG LEN \(NOPERM"):
            snapshot_redis(url, store)
        for i in range(10 * (step + 1)):
            c.command("SET", f"k{i}", "v")
        if step == 1:
            c.command("CONFIG", "RESETSTAT")  # the test's own (default) user may
            for i in range(40):
                c.command("GET", f"k{i % 5}")
    c.close()
    with pytest.warns(PerfkitWarning):
        snapshot_redis(url, store)
    info, commandstats = frames(store)
    assert read_redis(store, "slowlog").empty and read_redis(store, "latency_latest").empty
    assert not (info["section"] == "config").any()
    assert redis_intervals(info, commandstats)["status"].tolist() == ["ok", "reset", "ok"]
    sets = command_deltas(info, commandstats).query("command == 'set'")
    assert sets["calls"].tolist() == [10, 30]  # the 20 SETs before the reset are not counted
    assert sets["status"].tolist() == ["ok", "ok"]
    assert hit_ratio(info, commandstats)["hits"].tolist() == [0, 40, 0]


def _redis6(state: dict[str, int]) -> tuple[socket.socket, int]:
    """A Redis 6.2 on 127.0.0.1 as the protocol and INFO text of Redis 6 show it: commandstats
    name commands only (``cmdstat_slowlog``), never Redis 7's sub-commands (``slowlog|len``).
    Its counters grow by known steps between snapshots, with no reset."""

    def info(n: int) -> bytes:
        stat = "calls={},usec=10,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n"
        uptime, hits, misses, total = 100 + 60 * n, 1000 + 500 * n, 100 + 50 * n, 5000 + 1000 * n
        return (f"# Server\r\nredis_version:6.2.14\r\nrun_id:abc\r\nuptime_in_seconds:{uptime}\r\n"
                f"# Stats\r\nkeyspace_hits:{hits}\r\nkeyspace_misses:{misses}\r\n"
                f"total_commands_processed:{total}\r\n# Commandstats\r\n"
                + "cmdstat_info:" + stat.format(n) + "cmdstat_slowlog:" + stat.format(2 * n)
                + "cmdstat_latency:" + stat.format(n) + "cmdstat_memory:" + stat.format(n)
                + "cmdstat_config:" + stat.format(n)
                + "cmdstat_get:" + stat.format(1500 + 550 * n)).encode()  # fmt: skip

    def answer(args: list[str]) -> bytes:
        if args[0].upper() == "INFO":
            body = info(state["n"])
            state["n"] += 1
            return b"$%d\r\n%s\r\n" % (len(body), body)
        return b":0\r\n" if [a.upper() for a in args[:2]] == ["SLOWLOG", "LEN"] else b"*0\r\n"

    return _answering({"INFO": answer, "SLOWLOG": answer})


def test_redis6_commandstats_without_subcommands_are_no_reset(tmp_path):
    """Redis 6 counts `SLOWLOG LEN` and `SLOWLOG GET` as `slowlog`: perfkit's own commands grow
    there, so no interval is a reset and the deltas are the planted steps (not the totals)."""
    sock, port = _redis6({"n": 0})
    try:
        for _ in range(4):
            snapshot_redis(f"redis://127.0.0.1:{port}", tmp_path)
    finally:
        sock.close()
    info, stats = read_redis(tmp_path, "info"), read_redis(tmp_path, "commandstats")
    out = info_deltas(info, stats)
    assert list(out["status"]) == ["ok"] * 3
    assert list(out["keyspace_hits"]) == [500.0] * 3
    assert list(out["total_commands_processed"]) == [1000.0] * 3


@pytest.mark.parametrize("url", ["redis://:p@ss-planted@127.0.0.1:1/0",
                                 "redis://bob:s3cr@t-planted@127.0.0.1:1",
                                 "redis://:pa/ss-planted@127.0.0.1:1"])  # fmt: skip
def test_passwords_with_at_or_slash_never_shown(url, tmp_path, capsys):
    """A password holding an unencoded '@' or '/' (urlsplit cuts at the last '@', or at the
    '/'): the message masks it whole, and a '/' is refused with what to do."""
    with pytest.raises(InputError) as caught:
        collect_redis(url, tmp_path / "store", count=1)
    shown = str(caught.value) + "".join(capsys.readouterr())
    assert "planted" not in shown and "ss" not in redact_url(url).split("@")[0]


def _answering(replies: dict[str, Any], drip_s: float = 0.0) -> tuple[socket.socket, int]:
    """A server on 127.0.0.1 (hostile, or an older Redis): each command (its first word, upper
    case) gets the given raw bytes, or what a callable of its arguments returns (default an
    empty array), one byte every `drip_s` seconds when set."""

    def serve(sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            reader = conn.makefile("rb")
            try:
                while line := reader.readline():
                    args = [reader.read(int(reader.readline()[1:]) + 2)[:-2].decode()
                            for _ in range(int(line[1:]))]  # fmt: skip
                    body = replies.get(args[0].upper(), b"*0\r\n")
                    body = body(args) if callable(body) else body
                    if drip_s:
                        for byte in body:
                            conn.sendall(bytes([byte]))
                            time.sleep(drip_s)
                    else:
                        conn.sendall(body)
            except OSError:
                pass
            conn.close()

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    threading.Thread(target=serve, args=(sock,), daemon=True).start()
    return sock, sock.getsockname()[1]


def _bulk(text: str) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(text.encode()), text.encode())


@pytest.mark.parametrize("replies", [
    {"INFO": _bulk("# Server\r\nrun_id:x\r\nuptime_in_seconds:1.5\r\n")},
    {"INFO": b":5\r\n"},
    {"INFO": _bulk("# Commandstats\r\ncmdstat_get:calls=1e300,usec=1\r\n")},
    {"INFO": _bulk("# Server\r\nrun_id:x\r\n"), "SLOWLOG": b"*1\r\n*4\r\n:1\r\n+abc\r\n:5\r\n*0\r\n"},
    {"INFO": _bulk("# Server\r\nrun_id:x\r\n"),
     "LATENCY": b"*1\r\n*4\r\n$7\r\ncommand\r\n:99999999999999\r\n:1\r\n:1\r\n"},
])  # fmt: skip
def test_a_server_that_is_not_redis_is_an_input_error(replies, tmp_path):
    """Odd or hostile replies (a number where INFO gives text, numbers out of range, text where
    a number belongs) are an InputError that leaves no snapshot, never another exception."""
    sock, port = _answering(replies)
    try:
        with pytest.raises(InputError):
            snapshot_redis(f"redis://127.0.0.1:{port}", tmp_path / "store")
    finally:
        sock.close()
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").rglob("*.parquet"))


def test_a_reply_that_drips_is_cut_off_at_the_deadline():
    """One byte every 0.3 s keeps each recv under its timeout; the whole reply still has to
    arrive within the deadline."""
    sock, port = _answering({"INFO": _bulk("# Server\r\nrun_id:x\r\n" * 4)}, drip_s=0.3)
    started = time.monotonic()
    try:
        with ReadOnlyRedis(f"redis://127.0.0.1:{port}", timeout_s=1.0) as client, \
                pytest.raises(InputError, match="more than 1 s"):  # fmt: skip
            client.command("INFO", "all")
    finally:
        sock.close()
    assert time.monotonic() - started < 3
