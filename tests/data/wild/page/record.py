"""Record the page area's wild runs: a small flaskr-like blog (no database) under real Gunicorn.

    .venv/bin/python tests/data/wild/page/record.py

Writes, next to this file:

- ``flaskr_base/``: Gunicorn with a timed ``access_log_format`` (``%(D)s``, saved as
  ``access_log_format.txt``); two bursts of requests separated by a quiet period of
  about 8 s; one route whose rule is longer than 200 characters; then one planted
  line (a real line of this log cut in half, as a crash mid-write leaves it) appended
  at the end: the access log's one rejected line. No ``pg/``: no PostgreSQL statistics.
- ``flaskr_untimed/``: the same app under Gunicorn's *default* ``access_log_format``
  (no request duration), a few requests: nothing to draw a latency chart from.

The requests sent are listed in ``sent.json`` in each folder (method, path, status).
Bounded loops only, network on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
LONG = ("/reports/quarterly-latency-and-throughput-summary-for-the-platform-engineering-"
        "organisation-including-every-service-owned-by-the-team-that-runs-the-blog-and-its-"
        "background-workers-and-the-nightly-batch-jobs-as-agreed-in-the-review")
APP = f'''
import time
import flask

app = flask.Flask("flaskr_wild")
POSTS = {{i: f"post {{i}}" for i in range(1, 21)}}

@app.get("/")
def index():
    time.sleep(0.004)
    return "<h1>Posts</h1>" + "".join(f"<p>{{t}}</p>" for t in POSTS.values())

@app.get("/<int:post_id>")
def post(post_id):
    if post_id not in POSTS:
        flask.abort(404)
    time.sleep(0.002)
    return POSTS[post_id]

@app.route("/auth/login", methods=["GET", "POST"])
def login():
    time.sleep(0.01 if flask.request.method == "POST" else 0.001)
    return "ok"

@app.get("{LONG}/<int:year>")
def long_report(year):
    time.sleep(0.003)
    return str(year)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send(base: str, method: str, path: str) -> int:
    data = b"username=alice&password=hunter2" if method == "POST" else None
    request = urllib.request.Request(base + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def record(name: str, log_format: str | None, plan: list[list[tuple[str, str]]],
           pause_s: float) -> None:
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    (folder / "app_wild.py").write_text(APP)
    log = folder / "access.log"
    log.unlink(missing_ok=True)
    port = free_port()
    command = [str(Path(sys.executable).with_name("gunicorn")), "-w", "2", "-b",
               f"127.0.0.1:{port}", "--access-logfile", str(log), "--chdir", str(folder),
               "app_wild:app"]
    if log_format:
        command += ["--access-logformat", log_format]
        (folder / "access_log_format.txt").write_text(log_format + "\n")
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):  # bounded wait for the server
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        sent = []
        for number, burst in enumerate(plan):
            if number:
                time.sleep(pause_s)
            for method, path in burst:
                sent.append({"method": method, "path": path, "status": send(base, method, path)})
    finally:
        server.terminate()
        server.wait(timeout=30)
    (folder / "app_wild.py").unlink()
    (folder / "sent.json").write_text(json.dumps(sent, indent=1) + "\n")


def main() -> None:
    burst = []
    for i in range(60):
        burst += [("GET", "/"), ("GET", f"/{i % 25 + 1}"), ("GET", "/auth/login"),
                  ("POST", "/auth/login"), ("GET", f"{LONG}/{2000 + i % 7}")]
    timed = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
    record("flaskr_base", timed, [burst[:150], burst[150:]], pause_s=8.0)
    log = HERE / "flaskr_base" / "access.log"
    first = log.read_text().splitlines()[0]
    with open(log, "a") as handle:  # the planted rejected line: a real line cut mid-write
        handle.write(first[: len(first) // 2] + "\n")
    record("flaskr_untimed", None, [burst[:40]], pause_s=0)
    os.system(f"ls -la {HERE}/flaskr_base {HERE}/flaskr_untimed")


if __name__ == "__main__":
    main()
