"""Serve app/shelf.py under Gunicorn (2 sync workers, each line-profiling its views), send a
known number of requests per route from this client, stop Gunicorn (each worker dumps its
.lprof on exit) and write what the client sent as truth.

    python record_gunicorn.py gunicorn/      (run with the venv's python: line_profiler 5.1.0)
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
out = Path(sys.argv[1]).resolve()
shutil.rmtree(out, ignore_errors=True)
out.mkdir(parents=True)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
proc = subprocess.Popen(
    [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn_lprof.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "shelf:app",
    ],
    cwd=HERE / "app",
    env={**os.environ, "LPROF_DIR": str(out)},
    stderr=subprocess.DEVNULL,
)
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.05)
sent = {"GET /books": 0, "GET /books/<int:book_id>": 0, "status_404": 0}
for i in range(120):
    path = "/books" if i % 3 == 0 else f"/books/{(i % 60) + 1}"  # ids 51..60 do not exist
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            r.read()
    except urllib.error.HTTPError as e:
        assert e.code == 404
        sent["status_404"] += 1
    sent["GET /books" if path == "/books" else "GET /books/<int:book_id>"] += 1
proc.send_signal(signal.SIGTERM)
proc.wait(timeout=30)
with open(out / "truth.json", "w") as handle:
    json.dump({"requests": sent, "workers": 2, "port": port}, handle, indent=1)
print(sent, sorted(p.name for p in out.iterdir()))
