"""Record real Gunicorn access logs whose Referer / User-Agent hold quotes, backslashes,
non-ASCII text and empty values, under two Gunicorn versions.

Usage (project venv with gunicorn + flask; PyPI reachable for the older Gunicorn):
    .venv/bin/python tests/data/wild/formats/gunicorn/escapes/record.py [--old 20.1.0]
        [--venv-root /tmp]
The installed Gunicorn is the project venv's; the older one is installed, when missing, into
a throw-away venv ``<venv-root>/perfkit_gesc_g<version>`` with the project venv's Flask version.
A tiny Flask app (written to a temp dir) runs under ``gunicorn -w 1 -k sync -b 127.0.0.1:PORT
--access-logfile <log>`` (TZ=UTC) twice per version: with perfkit's ``gunicorn_timed`` format
and with no ``--access-logformat`` (Gunicorn's default). The same REQUESTS are sent each run.
Writes gunicorn-<version>-timed.log, gunicorn-<version>-default.log, requests.json (formats,
commands, and every request in order: method, target, headers sent, status received) and
versions.txt into this folder.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from importlib.metadata import version as dist_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[5]  # the repository
DEFAULT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
FORMATS = {"timed": DEFAULT + " %(D)s", "default": DEFAULT}  # timed = perfkit's gunicorn_timed

APP = textwrap.dedent(
    """
    from flask import Flask, request

    app = Flask(__name__)

    @app.route("/items/<int:item_id>")
    def item(item_id):
        return {"id": item_id}

    @app.route("/search")
    def search():
        return {"q": request.args.get("q", ""), "page": request.args.get("page", "1")}

    @app.route("/notes/<slug>")
    def note(slug):
        return {"slug": slug}

    @app.route("/status/<int:code>")
    def status(code):  # answers 400 or 404 on demand
        return "as asked", code if code in (400, 404) else 200
    """
)

UA = "perfkit-rec/1.0"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
REF = "http://127.0.0.1/home"
# the nasty values (Python literals: '\\' is ONE backslash)
QUOTED = 'Go-http-client/1.1 "bridge"'
LONE = "C:\\agent"  # C:\agent
BS_QUOTE = 'a\\"b'  # a\"b as sent: a backslash, then a quote
TRAILING = "agent\\"  # agent\  (ends in a backslash)
DOUBLE = "x\\\\y"  # x\\y (two backslashes)
UTF8 = "café-bot/2 Zürich ✓"  # sent as UTF-8 bytes
REF_QUOTED = 'http://r.test/p?q="x"'
REF_LONE = "http://r.test/C:\\dir\\file"
REF_TRAILING = "http://r.test/dir\\"

# (method, target, headers): most lines plain, some nasty
REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/items/1", {"User-Agent": UA, "Referer": REF}),
    ("GET", "/search?q=shoes&page=2", {"User-Agent": BROWSER, "Referer": REF}),
    ("GET", "/notes/hello", {"User-Agent": UA}),
    ("GET", "/items/2", {"User-Agent": QUOTED, "Referer": REF}),
    ("GET", "/status/404", {"User-Agent": UA}),
    ("GET", "/items/3", {"User-Agent": BROWSER, "Referer": REF}),
    ("GET", "/search?q=%22quoted%22&page=1", {"User-Agent": UA, "Referer": REF}),
    ("GET", "/notes/a%22b", {"User-Agent": UA, "Referer": REF}),
    ("GET", "/items/4", {"User-Agent": LONE, "Referer": REF}),
    ("GET", "/items/5", {"User-Agent": UA}),
    ("GET", "/search?q=a%5Cb", {"User-Agent": BROWSER}),
    ("GET", "/status/400", {"User-Agent": UA, "Referer": REF}),
    ("GET", "/items/6", {"User-Agent": BS_QUOTE, "Referer": REF}),
    ("GET", "/notes/plain-note", {"User-Agent": BROWSER, "Referer": REF}),
    ("GET", "/items/7", {"User-Agent": TRAILING, "Referer": REF}),
    ("GET", "/items/8", {"User-Agent": UA, "Referer": REF}),
    ("GET", "/search?q=x&page=3", {"User-Agent": DOUBLE}),
    ("GET", "/items/9", {"User-Agent": BROWSER, "Referer": REF}),
    ("GET", "/notes/caf%C3%A9", {"User-Agent": UTF8, "Referer": REF}),
    ("GET", "/items/10", {"User-Agent": "", "Referer": REF}),
    ("GET", "/items/11", {"User-Agent": UA}),
    ("GET", "/search?q=ok", {"User-Agent": UA, "Referer": REF_QUOTED}),
    ("GET", "/items/12", {"User-Agent": BROWSER, "Referer": REF_LONE}),
    ("GET", "/status/404", {"User-Agent": QUOTED}),
    ("GET", "/items/13", {"User-Agent": UA, "Referer": REF_TRAILING}),
    ("GET", "/items/14", {"User-Agent": UA, "Referer": REF}),
    ("GET", "/notes/x", {"User-Agent": QUOTED, "Referer": REF_QUOTED}),
    ("GET", "/items/15", {"User-Agent": BROWSER}),
    ("GET", "/search?q=%22a%5Cb%22&page=4", {"User-Agent": LONE, "Referer": REF}),
    ("GET", "/items/16", {"User-Agent": UA, "Referer": BS_QUOTE}),
    ("GET", "/items/17", {"User-Agent": UA, "Referer": REF}),
    ("GET", "/status/400", {"User-Agent": TRAILING}),
    ("GET", "/items/18", {"User-Agent": BROWSER, "Referer": REF}),
    ("GET", "/notes/end", {"User-Agent": UTF8}),
    ("GET", "/items/19", {"User-Agent": UA, "Referer": REF}),
    ("GET", "/search?q=last&page=5", {"User-Agent": ""}),
    ("GET", "/items/20", {"User-Agent": DOUBLE, "Referer": DOUBLE}),
    ("GET", "/items/21", {"User-Agent": BROWSER, "Referer": REF}),
    ("GET", "/notes/bye", {"User-Agent": UA, "Referer": REF}),
    ("GET", "/items/22", {}),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen) -> None:
    for _ in range(150):  # bounded
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("gunicorn exited early") from None
            time.sleep(0.1)
    raise SystemExit("gunicorn did not listen")


def send(port: int, method: str, target: str, headers: dict[str, str]) -> int:
    """One request; header values go out as UTF-8 bytes (http.client would send str as
    Latin-1). Returns the status received."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, target, headers={k: v.encode("utf-8") for k, v in headers.items()})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def gunicorn_exe(version: str | None, venv_root: Path) -> Path:
    """The project venv's Gunicorn (None) or `version` in a throw-away venv (installed when
    missing, with the project's Flask version)."""
    if version is None:
        return ROOT / ".venv" / "bin" / "gunicorn"
    venv = venv_root / f"perfkit_gesc_g{version}"
    exe = venv / "bin" / "gunicorn"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        pins = [f"gunicorn=={version}", f"flask=={dist_version('flask')}", "setuptools<81"]
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *pins], check=True,
                       timeout=600)  # fmt: skip
    return exe


def run_one(exe: Path, root: Path, name: str, fmt: str) -> tuple[bytes, str, list[int]]:
    """One Gunicorn run with `fmt`: the log it wrote, its command and the statuses received."""
    log = root / f"{name}.log"
    port = free_port()
    args = [str(exe), "-w", "1", "-k", "sync", "-b", f"127.0.0.1:{port}",
            "--access-logfile", str(log), "app:app"]  # fmt: skip
    if fmt != DEFAULT:  # the default run passes no --access-logformat at all
        args[-1:-1] = ["--access-logformat", fmt]
    proc = subprocess.Popen(args, cwd=root, env={**os.environ, "TZ": "UTC"})
    try:
        wait_port(port, proc)
        statuses = []
        for method, target, headers in REQUESTS:
            statuses.append(send(port, method, target, headers))
            time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    data = log.read_bytes()
    lines = data.count(b"\n")
    if lines != len(REQUESTS):
        raise SystemExit(f"{log}: {lines} lines for {len(REQUESTS)} requests")
    command = shlex.join(["gunicorn", *args[1:]]).replace(str(log), f"<{name}.log>")
    return data, command.replace(f":{port}", ":PORT"), statuses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", default="20.1.0", help="the older Gunicorn to record too")
    parser.add_argument("--venv-root", type=Path, default=Path("/tmp"))
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="perfkit_gunicorn_escapes_"))
    (root / "app.py").write_text(APP)
    runs: dict[str, dict] = {}
    statuses: list[int] | None = None
    versions = []
    for wanted in (None, args.old):
        exe = gunicorn_exe(wanted, args.venv_root)
        python = exe.parent / "python"
        probe = "import gunicorn, flask, sys, importlib.metadata as m; print(gunicorn.__version__," \
                " m.version('flask'), sys.version.split()[0])"  # fmt: skip
        gver, fver, pyver = subprocess.run([str(python), "-c", probe], capture_output=True,
                                           text=True, check=True).stdout.split()  # fmt: skip
        where = (
            "project .venv" if wanted is None else f"pip, throw-away venv {exe.parent.parent.name}"
        )
        versions.append(f"gunicorn {gver}  flask {fver}  python {pyver}  ({where})")
        for kind, fmt in FORMATS.items():
            name = f"gunicorn-{gver}-{kind}"
            data, command, got = run_one(exe, root, name, fmt)
            if statuses is not None and got != statuses:
                raise SystemExit(f"{name}: statuses differ from the first run: {got}")
            statuses = got
            (HERE / f"{name}.log").write_bytes(data)
            runs[name] = {"gunicorn": gver, "format": fmt, "command": command,
                          "log": f"{name}.log"}  # fmt: skip
    assert statuses is not None
    sent = [{"method": m, "target": t, "headers": h, "status": s}
            for (m, t, h), s in zip(REQUESTS, statuses, strict=True)]  # fmt: skip
    one = [json.dumps(r, ensure_ascii=False) for r in sent]  # one request a line
    (HERE / "requests.json").write_text(
        '{"runs": ' + json.dumps(runs, indent=1, ensure_ascii=False)
        + ',\n "requests": [\n  ' + ",\n  ".join(one) + "\n ]\n}\n"
    )  # fmt: skip
    (HERE / "versions.txt").write_text(
        "\n".join(versions) + f"\nrecorded on {platform.platform()}\n"
        "header values sent as UTF-8 bytes; TZ=UTC; one sync worker\n"
    )
    print(f"recorded {len(sent)} requests x {len(runs)} runs in {HERE}", file=sys.stderr)


if __name__ == "__main__":
    main()
