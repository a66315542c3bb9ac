"""Re-record tests/data/wild/gunicorn_errors/ (about 5 minutes; 127.0.0.1 only, every wait bounded).

    .venv/bin/python tests/data/wild/gunicorn_errors/record.py [--versions 27.0.1,20.1.0]
        [--only recycle] [--venv-root /tmp]

Run as root on a machine with a writable cgroup-v1 memory controller (``/sys/fs/cgroup/memory``)
for the ``oom`` scenario; without one that scenario falls back to ``kill -9`` of a worker and
says so in its truth.json (``oom.method``).

The installed Gunicorn is the project venv's; the others are installed, when missing, into
throw-away venvs ``<venv-root>/gerr-g<version>`` (``python3 -m venv`` + ``pip install
gunicorn==<version> flask``). Each scenario runs the real Gunicorn on ``app.py`` with
``--error-logfile error.log --access-logfile access.log --log-level info`` and writes
``<version>/<scenario>/{error.log,access.log,truth.json}``.

truth.json comes from what this script did and saw, never from the log: the requests it sent and
the pid each answer carried (``app.py`` returns the worker's pid), the master's children sampled
with psutil every 20 ms (first and last time each pid was seen), the signals it sent, the kernel's
OOM kills (``dmesg`` and the cgroup's ``memory.oom_control``), and from those the expected count of
each event kind. The log is only grepped afterwards as a cross-check printed on the console.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
INSTALLED = "27.0.1"
VERSIONS = ["27.0.1", "20.1.0", "21.2.0", "23.0.0"]
SCENARIOS = ["recycle", "timeout", "oom", "errors", "gthread"]
CGROUP_ROOT = Path("/sys/fs/cgroup/memory")
OOM_LIMIT_MB = 160
GROW_MB = 24


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_exe(version: str, venv_root: Path) -> Path:
    """The Gunicorn executable of `version`, installing a throw-away venv when missing."""
    if version == INSTALLED:
        exe = ROOT / ".venv" / "bin" / "gunicorn"
    else:
        venv = venv_root / f"gerr-g{version}"
        exe = venv / "bin" / "gunicorn"
        if not exe.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", f"gunicorn=={version}", "flask"],
                check=True,
                timeout=600,
            )
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=30)
    if version not in out.stdout + out.stderr:
        raise SystemExit(f"{exe} is not Gunicorn {version}: {out.stdout}{out.stderr}")
    return exe


def gunicorn_help(exe: Path) -> str:
    return subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=30).stdout


def package_versions(exe: Path) -> dict[str, str]:
    code = (
        "import sys, flask, werkzeug, gunicorn, importlib.metadata as m;"
        "print(sys.version.split()[0], m.version('flask'), m.version('werkzeug'), gunicorn.__version__)"
    )
    out = subprocess.run(
        [str(exe.parent / "python"), "-c", code], capture_output=True, text=True, timeout=30
    ).stdout.split()
    return dict(zip(["python", "flask", "werkzeug", "gunicorn"], out, strict=True))


class Sampler(threading.Thread):
    """The master's live children (psutil) every 20 ms: pid -> first and last time seen."""

    def __init__(self, master: int, t0: float) -> None:
        super().__init__(daemon=True)
        self.master, self.t0 = master, t0
        self.lock = threading.Lock()
        self.current: set[int] = set()
        self.seen: dict[int, list[float]] = {}
        self.stop_flag = threading.Event()

    def run(self) -> None:
        try:
            parent = psutil.Process(self.master)
        except psutil.NoSuchProcess:
            return
        while not self.stop_flag.is_set():
            try:
                kids = parent.children()
            except psutil.NoSuchProcess:
                kids = []
            live = set()
            for k in kids:
                try:
                    if k.status() != psutil.STATUS_ZOMBIE:
                        live.add(k.pid)
                except psutil.NoSuchProcess:
                    pass
            t = round(time.monotonic() - self.t0, 3)
            with self.lock:
                self.current = live
                for pid in live:
                    self.seen.setdefault(pid, [t, t])[1] = t
            try:
                if not kids and parent.status() == psutil.STATUS_ZOMBIE:
                    return
            except psutil.NoSuchProcess:
                return
            time.sleep(0.02)

    def live(self) -> set[int]:
        with self.lock:
            return set(self.current)

    def wait(self, pred: Callable[[set[int]], object], timeout_s: float, what: str) -> set[int]:
        """Wait (bounded) until pred(live pids) holds; returns the live pids."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            live = self.live()
            if pred(live):
                return live
            time.sleep(0.02)
        raise RuntimeError(f"timed out waiting for {what}; live workers {sorted(self.live())}")


class Run:
    """One Gunicorn master with its error and access logs, a sampler and a request ledger."""

    def __init__(self, exe: Path, folder: Path, args: list[str], workers: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("error.log", "access.log"):
            (folder / name).unlink(missing_ok=True)
        self.folder, self.exe, self.port = folder, exe, free_port()
        self.args = ["-b", f"127.0.0.1:{self.port}", *args]
        if "--no-control-socket" in gunicorn_help(exe):  # 25+: not the shared default path
            self.args += ["--control-socket", f"/tmp/gerr-{os.getpid()}-{folder.name}.ctl"]
        self.cmd = [
            str(exe),
            *self.args,
            "--chdir",
            str(HERE),
            "--error-logfile",
            str(folder / "error.log"),
            "--access-logfile",
            str(folder / "access.log"),
            "--log-level",
            "info",
            "app:app",
        ]
        self.t0, self.created = time.monotonic(), time.time() - 1
        self.console = open(folder / "console.txt", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(self.cmd, stdout=self.console, stderr=subprocess.STDOUT)
        self.sampler = Sampler(self.proc.pid, self.t0)
        self.sampler.start()
        self.requests: list[dict] = []
        self.actions: list[dict] = []
        self.lock = threading.Lock()
        self.started = now()
        self.sampler.wait(lambda live: len(live) >= workers, 20, f"{workers} workers")
        for _ in range(100):  # bounded: 10 s until the socket answers
            r = self.get("/ok", kind="probe")
            if r["status"] == 200:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not answer")

    def note(self, action: str, **info: object) -> None:
        with self.lock:
            self.actions.append({"t": now(), "action": action, **info})

    def get(self, path: str, kind: str = "request", timeout_s: float = 15) -> dict:
        """GET path; the outcome (status, serving pid, or the client's error) is kept."""
        row: dict = {"t": now(), "path": path, "kind": kind}
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}{path}", timeout=timeout_s
            ) as resp:
                row["status"] = resp.status
                body = resp.read()
            with contextlib.suppress(ValueError):
                row["pid"] = json.loads(body).get("pid")
        except urllib.error.HTTPError as e:
            row["status"] = e.code
        except (OSError, http.client.HTTPException) as e:
            row["status"] = None
            row["error"] = type(e).__name__
        if kind == "probe" and row["status"] is None:
            return row  # before the socket listened: nothing reached Gunicorn
        with self.lock:
            self.requests.append(row)
        return row

    def signal(self, sig: signal.Signals) -> None:
        self.note("signal master", signal=sig.name)
        self.proc.send_signal(sig)

    def stop(self) -> int:
        """TERM the master (graceful shutdown) and wait for it (bounded)."""
        self.signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=40)
        finally:
            self.kill()
        self.sampler.stop_flag.set()
        self.sampler.join(timeout=5)
        self.note("master exited", code=code)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pid in list(self.sampler.seen):  # this run's workers, if any outlived the master
            try:
                p = psutil.Process(pid)
                if "gunicorn" in " ".join(p.cmdline()) and p.create_time() >= self.created:
                    p.kill()
            except psutil.Error:
                pass
        self.console.close()

    def served_by(self, path: str = "/ok") -> Counter:
        return Counter(r["pid"] for r in self.requests if r.get("pid") and r["path"] == path)

    def request_summary(self) -> dict:
        out: dict[str, dict[str, int]] = {}
        for r in self.requests:
            key = str(r["status"]) if r["status"] is not None else f"error:{r['error']}"
            out.setdefault(r["path"], Counter())[key] += 1
        return {k: dict(v) for k, v in out.items()}

    def workers_table(self, ends: dict[int, str]) -> list[dict]:
        pids = set(self.sampler.seen) | {r["pid"] for r in self.requests if r.get("pid")}
        rows = []
        for pid in sorted(pids, key=lambda p: self.sampler.seen.get(p, [1e9])[0]):
            first, last = self.sampler.seen.get(pid, [None, None])
            rows.append(
                {
                    "pid": pid,
                    "first_seen_s": first,
                    "last_seen_s": last,
                    "ok_requests_served": self.served_by().get(pid, 0),
                    "end": ends.get(pid, "shutdown"),
                }
            )
        return rows


def command_text(run: Run, version: str) -> str:
    exe = "<venv>/bin/gunicorn" if version != INSTALLED else ".venv/bin/gunicorn"
    return " ".join(
        [
            exe,
            *run.args,
            "--chdir tests/data/wild/gunicorn_errors",
            "--error-logfile error.log --access-logfile access.log --log-level info app:app",
        ]
    ).replace(f"127.0.0.1:{run.port}", "127.0.0.1:<free port>")


def finish(run: Run, version: str, scenario: str, meta: dict, truth: dict) -> None:
    console = run.folder / "console.txt"
    console_text = console.read_text(errors="replace") if console.exists() else ""
    if not console_text:
        console.unlink(missing_ok=True)
    body = {
        "scenario": scenario,
        "gunicorn_version": version,
        "versions": meta,
        "recorded_utc": run.started,
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs",
        "command": command_text(run, version),
        "master_pid": run.proc.pid,
        **truth,
        "requests": run.request_summary(),
        "actions": run.actions,
    }
    (run.folder / "truth.json").write_text(json.dumps(body, indent=1) + "\n")
    cross_check(run.folder, body)


# ---------------------------------------------------------------- scenarios


def recycle(exe: Path, folder: Path) -> dict:
    max_requests, n = 20, 100
    run = Run(
        exe,
        folder,
        [
            "-k",
            "sync",
            "-w",
            "2",
            "--max-requests",
            str(max_requests),
            "--max-requests-jitter",
            "0",
        ],
        2,
    )
    try:
        for _ in range(n):  # sequential, about 50/s
            run.get("/ok")
            time.sleep(0.02)
        served = run.served_by()
        recycled = sorted(pid for pid, k in served.items() if k >= max_requests)
        boots = 2 + len(recycled)
        run.sampler.wait(
            lambda live: len(live) == 2 and len(run.sampler.seen) >= boots, 15, "replacements"
        )
        time.sleep(1.0)
        run.stop()
    finally:
        run.kill()
    pids = run.workers_table({p: "recycled (max_requests)" for p in recycled})
    truth = {
        "worker_class": "sync",
        "workers": 2,
        "max_requests": max_requests,
        "max_requests_jitter": 0,
        "requests_sent": {"probe /ok": 1, "/ok": n},
        "ok_requests_per_pid": {str(k): v for k, v in served.items()},
        "worker_pids": pids,
        "signals_sent_to_master": ["TERM"],
        "expected": {
            "boots": boots,
            "autorestarts": len(recycled),
            "worker_timeouts": 0,
            "sigkills": 0,
            "worker_exits": boots,
            "exceptions_with_traceback": 0,
            "signals_handled": {"term": 1},
            "worker_class": "sync",
        },
        "how": "a worker whose /ok answers reached max_requests (pids from the answers, the "
        "readiness probe included) was recycled; every recycled worker is replaced; every worker "
        "ends with a 'Worker exiting' (recycled or at TERM).",
    }
    assert len(pids) == boots, (pids, boots)
    return {"run": run, "truth": truth}


def timeout(exe: Path, folder: Path) -> dict:
    run = Run(exe, folder, ["-k", "sync", "-w", "2", "--timeout", "2"], 2)
    done = threading.Event()
    vanished: dict[int, str] = {}

    def background() -> None:
        for _ in range(400):  # bounded: 400 x 0.1 s
            if done.is_set():
                return
            run.get("/ok")
            time.sleep(0.1)

    bg = threading.Thread(target=background)
    try:
        bg.start()
        time.sleep(1.0)
        plan = [
            ("/sleep?s=1", False),
            ("/sleep?s=5", True),
            ("/sleep?s=5", True),
            ("/sleep?s=5", True),
        ]
        for path, past_timeout in plan:
            before = run.sampler.live()
            r = run.get(path, timeout_s=15)
            if past_timeout:  # the answer (or drop) can come before the worker has exited
                run.sampler.wait(lambda live, b=before: b - live, 10, "the worker to exit")
            else:
                time.sleep(0.3)
            gone = before - run.sampler.live()
            run.note(
                "sleep answered" if r["status"] == 200 else "sleep failed",
                path=path,
                outcome=r.get("status") or r.get("error"),
                workers_gone=sorted(gone),
            )
            if past_timeout:  # dropped, or (27.x) a 500 from Gunicorn's handler of SystemExit
                assert r["status"] in (None, 500) and len(gone) == 1, (r, gone)
                vanished[gone.pop()] = "timed out (aborted by the master)"
            else:
                assert r["status"] == 200 and not gone, (r, gone)
            time.sleep(1.0)
        done.set()
        bg.join(timeout=20)
        n_timeouts = sum(1 for _, past in plan if past)
        run.sampler.wait(
            lambda live: len(live) == 2 and len(run.sampler.seen) >= 2 + n_timeouts,
            15,
            "replacements",
        )
        time.sleep(0.5)
        run.stop()
    finally:
        done.set()
        run.kill()
    boots = 2 + n_timeouts
    answered_500 = sum(1 for r in run.requests if r["path"] == "/sleep?s=5" and r["status"] == 500)
    dropped = sum(1 for r in run.requests if r["path"] == "/sleep?s=5" and r["status"] is None)
    truth = {
        "worker_class": "sync",
        "workers": 2,
        "timeout_s": 2,
        "requests_sent": {
            "probe /ok": 1,
            "/ok": sum(1 for r in run.requests if r["path"] == "/ok") - 1,
            **{p: sum(1 for q, _ in plan if q == p) for p, _ in plan},
        },
        "worker_pids": run.workers_table(vanished),
        "signals_sent_to_master": ["TERM"],
        "expected": {
            "boots": boots,
            "autorestarts": 0,
            "worker_timeouts": n_timeouts,
            "timed_out_pids": sorted(vanished),
            "sigkills": 0,
            "worker_exits": boots,
            "timed_out_requests_dropped": dropped,
            "timed_out_requests_answered_500": answered_500,
            "exceptions_with_traceback": answered_500,
            "gunicorn_request_errors": answered_500,
            "signals_handled": {"term": 1},
            "worker_class": "sync",
        },
        "how": "each /sleep?s=5 (past --timeout 2) had its connection closed without an answer "
        "and exactly one worker pid vanished meanwhile (psutil), not signalled by the recorder: "
        "that worker timed out; the master's SIGABRT makes it sys.exit(1), so it still logs "
        "'Worker exiting'. Dropped: the SystemExit left the worker, exit code 1 (logged as "
        "'exited with code 1' by 21.x-23.x). /sleep?s=1 is the control: answered, no worker "
        "lost. /ok ran beside them from another thread every 0.1 s. Where the client got a 500 "
        "(Gunicorn 27) rather than a dropped connection, the worker's request handler caught the "
        "SystemExit: one 'Error handling request' traceback each, and the worker then ends "
        "its loop normally (no exit-code line).",
    }
    assert len(truth["worker_pids"]) == boots
    return {"run": run, "truth": truth}


def dmesg_lines() -> list[str] | None:
    out = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=30)
    return out.stdout.splitlines() if out.returncode == 0 else None


def read_cg(cg: Path, name: str) -> str | None:
    try:
        return (cg / name).read_text().strip()
    except OSError:
        return None


def oom(exe: Path, folder: Path) -> dict:
    run = Run(exe, folder, ["-k", "sync", "-w", "2"], 2)
    cg = CGROUP_ROOT / f"perfkit_gerr_{os.getpid()}"
    method, kernel, ends = "cgroup-v1 OOM killer", {}, {}
    dmesg_before = dmesg_lines()
    grows = []
    try:
        workers = sorted(run.sampler.live())
        try:
            cg.mkdir()
            (cg / "memory.limit_in_bytes").write_text(str(OOM_LIMIT_MB * 1024 * 1024))
            for pid in workers:
                (cg / "cgroup.procs").write_text(str(pid))
            run.note("workers moved to cgroup", cgroup=str(cg), pids=workers, limit_mb=OOM_LIMIT_MB)
        except OSError as e:
            method = f"kill -9 by the recorder (no writable memory cgroup: {e})"
        killed: list[int] = []
        if method.startswith("cgroup"):
            for _ in range(3 * OOM_LIMIT_MB // GROW_MB):  # bounded
                before = run.sampler.live()
                r = run.get(f"/grow?mb={GROW_MB}", timeout_s=30)
                grows.append({k: r.get(k) for k in ("t", "status", "pid", "error")})
                oc = read_cg(cg, "memory.oom_control") or ""
                m = re.search(r"oom_kill (\d+)", oc)
                if r["status"] is None or (m and int(m.group(1)) > 0):
                    live = run.sampler.wait(lambda live, b=before: b - live, 10, "the OOM kill")
                    killed = sorted(before - live)
                    break
            kernel = {
                "memory.oom_control": read_cg(cg, "memory.oom_control"),
                "memory.failcnt": read_cg(cg, "memory.failcnt"),
                "memory.max_usage_in_bytes": read_cg(cg, "memory.max_usage_in_bytes"),
                "memory.limit_in_bytes": read_cg(cg, "memory.limit_in_bytes"),
            }
            after = dmesg_lines()
            if after is not None and dmesg_before is not None:
                new = after[len(dmesg_before) :]
                kernel["dmesg"] = [
                    ln
                    for ln in new
                    if re.search(r"out of memory|Killed process|oom-kill|invoked oom-killer", ln)
                ]
                kernel["dmesg_killed_pids"] = sorted(  # this run's workers only
                    int(p)
                    for ln in new
                    for p in re.findall(r"Killed process (\d+)", ln)
                    if int(p) in workers
                )
            if not killed:
                method = "kill -9 by the recorder (the OOM killer did not act)"
        if not method.startswith("cgroup"):
            victim = workers[0]
            run.note("SIGKILL worker (fallback for OOM)", pid=victim)
            os.kill(victim, signal.SIGKILL)
            time.sleep(0.5)
            killed = [victim]
        for pid in killed:
            ends[pid] = "OOM-killed by the kernel" if method.startswith("cgroup") else "kill -9"
        run.note("worker(s) gone", pids=killed)
        run.sampler.wait(
            lambda live: len(live) == 2 and len(run.sampler.seen) >= 2 + len(killed),
            15,
            "replacement",
        )
        run.get("/ok")
        time.sleep(0.5)
        run.stop()
    finally:
        run.kill()
        if cg.exists():
            for _ in range(50):
                try:
                    cg.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
    if method.startswith("cgroup"):
        oc = kernel.get("memory.oom_control") or ""
        m = re.search(r"oom_kill (\d+)", oc)
        assert m and int(m.group(1)) == len(killed), (kernel, killed)
        if "dmesg_killed_pids" in kernel:
            assert kernel["dmesg_killed_pids"] == killed, (kernel, killed)
    boots = 2 + len(killed)
    truth = {
        "worker_class": "sync",
        "workers": 2,
        "oom": {
            "method": method,
            "cgroup_limit_mb": OOM_LIMIT_MB,
            "grow_mb_per_request": GROW_MB,
            "killed_pids": killed,
            "kernel": kernel,
            "grow_requests": grows,
        },
        "requests_sent": {"probe /ok": 1, "/grow": len(grows), "/ok": 1},
        "worker_pids": run.workers_table(ends),
        "signals_sent_to_master": ["TERM"],
        "expected": {
            "boots": boots,
            "autorestarts": 0,
            "worker_timeouts": 0,
            "sigkills": len(killed),
            "sigkilled_pids": killed,
            "worker_exits": boots - len(killed),
            "exceptions_with_traceback": 0,
            "signals_handled": {"term": 1},
            "worker_class": "sync",
        },
        "how": "both first workers were moved into a fresh cgroup-v1 memory cgroup limited to "
        f"{OOM_LIMIT_MB} MB; /grow?mb={GROW_MB} was sent until a request failed or the cgroup's "
        "oom_kill counter moved; the killed pid is the one that vanished (psutil), confirmed by "
        "memory.oom_control's oom_kill count and dmesg's 'Killed process <pid>'. A SIGKILLed "
        "worker cannot log 'Worker exiting'; its replacement boots in the master's cgroup.",
    }
    assert len(truth["worker_pids"]) == boots
    return {"run": run, "truth": truth}


def errors(exe: Path, folder: Path) -> dict:
    run = Run(exe, folder, ["-k", "sync", "-w", "2", "--capture-output"], 2)
    ends: dict[int, str] = {}
    sent = Counter()
    try:
        for path in ["/ok", "/ok", "/boom", "/boom", "/boom", "/wsgiboom", "/wsgiboom", "/ok"]:
            r = run.get(path)
            sent[path] += 1
            assert r["status"] == (200 if path == "/ok" else 500), r
        first = run.sampler.live()
        run.signal(signal.SIGHUP)
        live = run.sampler.wait(lambda live: len(live) == 2 and not live & first, 20, "reload")
        ends.update({p: "replaced by HUP (reload)" for p in first})
        run.note("reloaded", old=sorted(first), new=sorted(live))
        time.sleep(0.5)
        for path in ["/ok", "/boom", "/ok"]:
            r = run.get(path)
            sent[path] += 1
        before = run.sampler.live()
        run.signal(signal.SIGTTIN)
        run.sampler.wait(lambda live: len(live) == 3 and before < live, 15, "TTIN")
        run.note("TTIN: one more worker", new=sorted(run.sampler.live() - before))
        time.sleep(0.5)
        before = run.sampler.live()
        run.signal(signal.SIGTTOU)
        after = run.sampler.wait(lambda live: len(live) == 2 and live < before, 15, "TTOU")
        gone = sorted(before - after)
        ends.update({p: "stopped by TTOU" for p in gone})
        run.note("TTOU: one fewer worker", gone=gone)
        time.sleep(0.5)
        run.stop()
    finally:
        run.kill()
    boots = len(run.sampler.seen)
    assert boots == 2 + 2 + 1, boots
    truth = {
        "worker_class": "sync",
        "workers": 2,
        "capture_output": True,
        "requests_sent": {"probe /ok": 1, **dict(sent)},
        "worker_pids": run.workers_table(ends),
        "signals_sent_to_master": ["HUP", "TTIN", "TTOU", "TERM"],
        "expected": {
            "boots": boots,
            "autorestarts": 0,
            "worker_timeouts": 0,
            "sigkills": 0,
            "worker_exits": boots,
            "exceptions_with_traceback": sent["/boom"] + sent["/wsgiboom"],
            "flask_exceptions": sent["/boom"],
            "gunicorn_request_errors": sent["/wsgiboom"],
            "captured_stdout_lines": sent["/boom"],
            "signals_handled": {"hup": 1, "ttin": 1, "ttou": 1, "term": 1},
            "worker_class": "sync",
            "workers_after_ttin": 3,
            "workers_after_ttou": 2,
        },
        "how": "each /boom answered 500 after Flask logged 'Exception on /boom [GET]' with a "
        "traceback (via wsgi.errors) and printed one stdout line (captured by --capture-output); "
        "each /wsgiboom answered 500 after Gunicorn's worker logged 'Error handling request' with "
        "a traceback. HUP replaced both workers (psutil: the two old pids gone, two new ones), TTIN "
        "added a third, TTOU removed one (the pid that vanished), TERM stopped the rest; every "
        "worker ended in Python, so each logs 'Worker exiting'. Not predictable, so not counted: "
        "some stopped workers are also reported as 'was sent SIGTERM!' (21+) or 'terminated due "
        "to signal 15' (20.1): the master repeats SIGTERM to a worker it has not reaped yet, and "
        "one arriving after the worker restored its default handlers ends it by signal (a race).",
    }
    return {"run": run, "truth": truth}


def gthread(exe: Path, folder: Path) -> dict:
    run = Run(exe, folder, ["-k", "gthread", "-w", "2", "--threads", "4"], 2)
    try:
        for _ in range(10):
            run.get("/ok")
        time.sleep(0.5)
        run.stop()
    finally:
        run.kill()
    boots = len(run.sampler.seen)
    assert boots == 2, boots
    truth = {
        "worker_class": "gthread",
        "workers": 2,
        "threads": 4,
        "requests_sent": {"probe /ok": 1, "/ok": 10},
        "worker_pids": run.workers_table({}),
        "signals_sent_to_master": ["TERM"],
        "expected": {
            "boots": 2,
            "autorestarts": 0,
            "worker_timeouts": 0,
            "sigkills": 0,
            "worker_exits": 2,
            "exceptions_with_traceback": 0,
            "signals_handled": {"term": 1},
            "worker_class": "gthread",
        },
        "how": "a plain start, ten /ok, TERM: two workers booted and exited.",
    }
    return {"run": run, "truth": truth}


RUNNERS = {"recycle": recycle, "timeout": timeout, "oom": oom, "errors": errors, "gthread": gthread}


# ------------------------------------------------------- cross-check (console only)

PATTERNS = {
    "boots": r"Booting worker with pid",
    "autorestarts": r"Autorestarting worker after current request",
    "worker_timeouts": r"WORKER TIMEOUT \(pid:",
    "sigkills": r"was sent SIGKILL|terminated due to signal 9\b",
    "worker_exits": r"Worker exiting \(pid:",
}


def cross_check(folder: Path, truth: dict) -> None:
    """Print the expected counts beside a plain grep of the log (not part of the truth)."""
    text = (folder / "error.log").read_text(errors="replace")
    exp = truth["expected"]
    cells = []
    for kind, pat in PATTERNS.items():
        got = len(re.findall(pat, text))
        flag = "" if got == exp[kind] else " <-- differs"
        cells.append(f"{kind} {exp[kind]}/{got}{flag}")
    tb = text.count("Traceback (most recent call last)")
    cells.append(f"tracebacks {exp['exceptions_with_traceback']}/{tb}")
    sig = Counter(re.findall(r"Handling signal: (\w+)", text))
    cells.append(f"signals {exp['signals_handled']}/{dict(sig)}")
    print(f"  {folder.relative_to(HERE)}: expected/grep: " + "; ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", default=",".join(VERSIONS))
    parser.add_argument("--only", choices=SCENARIOS, action="append")
    parser.add_argument("--venv-root", type=Path, default=Path("/tmp"))
    args = parser.parse_args()
    for version in args.versions.split(","):
        exe = gunicorn_exe(version, args.venv_root)
        meta = package_versions(exe)
        for scenario in args.only or SCENARIOS:
            folder = HERE / version / scenario
            shutil.rmtree(folder, ignore_errors=True)
            print(f"{version} {scenario} ...", flush=True)
            out = RUNNERS[scenario](exe, folder)
            finish(out["run"], version, scenario, meta, out["truth"])


if __name__ == "__main__":
    sys.exit(main())
