"""Re-record tests/data/wild/profiles/ (about 2 minutes; needs the pythons and tools below).

    .venv/bin/python tests/data/wild/profiles/record.py [scripts] [flask] [pyspy]

Pythons: the project venv (3.11) and pyenv's 3.12 / 3.13 (scripts); a venv of pyenv's 3.12
with flask + gunicorn at /tmp/pk312 (Flask middleware dumps); py-spy 0.4.x from the project
venv and py-spy 0.3.14 at /tmp/pyspy03/bin/py-spy. Servers listen on 127.0.0.1 only and every
wait loop is bounded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE.parents[3] / ".venv" / "bin"
PYTHONS = {
    "py311": str(VENV / "python"),
    "py312": "/root/.pyenv/versions/3.12.1/bin/python3.12",
    "py313": "/root/.pyenv/versions/3.13.0/bin/python3.13",
}
FLASK_PYTHONS = {"py311": VENV, "py312": Path("/tmp/pk312/bin")}
PYSPY = {"pyspy043": str(VENV / "py-spy"), "pyspy0314": "/tmp/pyspy03/bin/py-spy"}
SCRIPTS = ("pure", "libuse", "recurse", "threads")
OUT = HERE / "recorded"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        r.read()


def start_gunicorn(bin_dir: Path, port: int, env: dict, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", *extra, "shopapp:app"],
        cwd=HERE, env={**os.environ, **env},
    )  # fmt: skip
    for _ in range(100):  # bounded: 10 s
        try:
            get(port, "/items/1")
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def worker_pid(arbiter: int) -> int:
    for _ in range(50):
        children = Path(f"/proc/{arbiter}/task/{arbiter}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("no gunicorn worker")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def record_scripts() -> None:
    for tag, python in PYTHONS.items():
        for name in SCRIPTS:
            out = OUT / f"{name}-{tag}.prof"
            subprocess.run([python, "-m", "cProfile", "-o", str(out), f"scripts/{name}.py"],
                           cwd=HERE, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        out = OUT / f"twoprofilers-{tag}.prof"
        subprocess.run([python, "scripts/twoprofilers.py", str(out)], cwd=HERE, check=True)
    for tag, bin_dir in FLASK_PYTHONS.items():  # these pythons have Flask
        out = OUT / f"testclient-{tag}.prof"
        subprocess.run([str(bin_dir / "python"), "-m", "cProfile", "-o", str(out),
                        "scripts/testclient.py"], cwd=HERE, check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def record_flask_dumps() -> None:
    for tag, bin_dir in FLASK_PYTHONS.items():
        target = OUT / f"flask-{tag}"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            proc = start_gunicorn(bin_dir, port, {"PROFILE_DIR": tmp})
            try:
                for path in ("/slow", "/fast", "/slow", "/fast", "/slow", "/fast", "/items/7"):
                    get(port, path)
                    time.sleep(
                        1.05
                    )  # Werkzeug names dumps by ms and second: same name, overwritten
            finally:
                stop(proc)
            for dump in Path(tmp).glob("*.prof"):
                if not dump.name.startswith("GET.items.1."):  # the start-up probe
                    shutil.copy(dump, target / dump.name)


def drive(port: int, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # bounded by time
        get(port, "/slow")
        get(port, "/fast")


def record_pyspy(tag: str, pyspy: str, fmt: str, worker_class: str = "sync") -> None:
    port = free_port()
    extra = ("--worker-class", "gthread", "--threads", "2") if worker_class == "gthread" else ()
    proc = start_gunicorn(VENV, port, {}, *extra)
    try:
        worker = worker_pid(proc.pid)
        client = threading.Thread(target=drive, args=(port, 10.0))
        client.start()
        time.sleep(0.5)
        suffix = "json" if fmt == "speedscope" else "txt"
        out = OUT / f"gunicorn-{worker_class}-{tag}.{suffix}"
        subprocess.run([pyspy, "record", "--pid", str(worker), "-r", "100", "-d", "8",
                        "--format", fmt, "-o", str(out), "--nonblocking"], check=True)  # fmt: skip
        client.join(timeout=30)
    finally:
        stop(proc)


def main(parts: list[str]) -> None:
    """Record every part, or the ones named (scripts, flask, pyspy)."""
    parts = parts or ["scripts", "flask", "pyspy"]
    OUT.mkdir(exist_ok=True)
    if "scripts" in parts:
        record_scripts()
    if "flask" in parts:
        record_flask_dumps()
    if "pyspy" in parts:
        record_all_pyspy()
    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size:>8} {path.relative_to(HERE)}")


def record_all_pyspy() -> None:
    for tag, pyspy in PYSPY.items():
        record_pyspy(tag, pyspy, "speedscope")
        record_pyspy(tag, pyspy, "raw")
    record_pyspy("pyspy043", PYSPY["pyspy043"], "speedscope", "gthread")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
