"""Record nginx JSON access logs and a Gunicorn log whose format changes midway.

Usage (nginx installed, project venv with gunicorn + flask):
    .venv/bin/python tests/data/wild/formats/record_json_sniff.py
Writes nginx/json_uri.log, nginx/json_partial.log, nginx/requests.json and
gunicorn/changed_midway.log, gunicorn/requests.json in this folder.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

NGINX_FORMATS = {
    # `uri` holds $request_uri: path AND query string (the case)
    "json_uri": (
        '{"time":"$time_iso8601","remote_addr":"$remote_addr","method":"$request_method",'
        '"uri":"$request_uri","status":$status,"body_bytes_sent":$body_bytes_sent,'
        '"request_time":$request_time,"http_user_agent":"$http_user_agent"}'
    ),
    # names recognition does not know for the duration: `response_time`
    "json_partial": (
        '{"time":"$time_iso8601","method":"$request_method","uri":"$request_uri",'
        '"status":$status,"response_time":$request_time}'
    ),
}
NGINX_REQUESTS = [
    ("GET", "/api/items?token=abc123secret&page=2"),
    ("GET", "/api/items/7?access_token=zzz999"),
    ("POST", "/api/orders?debug=1"),
    ("GET", "/gone"),
    ("GET", "/missing.html"),
    ("GET", "/slow"),
    ("DELETE", "/api/items/7"),
    ("GET", "/api/search?q=a%20b&password=hunter2"),
]

APP = textwrap.dedent(
    """
    import time
    from flask import Flask, request
    app = Flask(__name__)

    @app.route("/health")
    def health():
        return "ok"

    @app.route("/users/<int:uid>", methods=["GET", "PUT"])
    def user(uid):
        return {"id": uid}, 200 if request.method == "GET" else 204

    @app.route("/sleep/<int:ms>")
    def sleep(ms):
        time.sleep(ms / 1000)
        return "slept"

    @app.route("/fail")
    def fail():
        return "no", 503
    """
)
GUNICORN_A = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
GUNICORN_B = GUNICORN_A + ' "%(L)s"'
GUNICORN_FIRST = [("GET", "/health"), ("GET", "/users/1"), ("GET", "/fail"), ("GET", "/nope")]
GUNICORN_SECOND = [("GET", "/sleep/30"), ("PUT", "/users/2"), ("GET", "/health"),
                   ("GET", "/sleep/120"), ("GET", "/fail"), ("GET", "/users/3")]  # fmt: skip


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
                raise SystemExit("server exited early") from None
            time.sleep(0.1)
    raise SystemExit("server did not listen")


def send(port: int, method: str, target: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    before = time.time()
    conn.request(method, target, headers={"User-Agent": "rec/1.0"})
    response = conn.getresponse()
    body = response.read()
    after = time.time()
    conn.close()
    return {"method": method, "target": target, "status": response.status,
            "body_bytes": len(body), "before_utc_s": before, "after_utc_s": after}  # fmt: skip


def record_nginx() -> None:
    root = Path(tempfile.mkdtemp(prefix="perfkit_nginx_"))
    (root / "html").mkdir()
    port = free_port()
    logs = "\n".join(
        f"log_format {name} escape=json '{fmt}';\naccess_log {root}/{name}.log {name};"
        for name, fmt in NGINX_FORMATS.items()
    )
    conf = root / "nginx.conf"
    conf.write_text(
        textwrap.dedent(f"""
        daemon off;
        master_process off;
        pid {root}/nginx.pid;
        error_log {root}/error.log;
        events {{ worker_connections 64; }}
        http {{
          {logs}
          client_body_temp_path {root}/body;
          server {{
            listen 127.0.0.1:{port};
            root {root}/html;
            location /api/ {{ return 200 "ok\\n"; }}
            location = /gone {{ return 410; }}
            location = /slow {{ return 302 /api/items; }}
          }}
        }}
    """)
    )
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)])
    sent = []
    try:
        wait_port(port, proc)
        sent = [send(port, m, t) for m, t in NGINX_REQUESTS]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    out = HERE / "nginx"
    out.mkdir(exist_ok=True)
    for name in NGINX_FORMATS:
        (out / f"{name}.log").write_bytes((root / f"{name}.log").read_bytes())
    version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    (out / "requests.json").write_text(
        json.dumps({"nginx": version, "formats": NGINX_FORMATS, "requests": sent}, indent=1) + "\n"
    )


def record_gunicorn() -> None:
    root = Path(tempfile.mkdtemp(prefix="perfkit_gunicorn_"))
    (root / "app.py").write_text(APP)
    log = root / "access.log"
    sent = []
    for fmt, requests in ((GUNICORN_A, GUNICORN_FIRST), (GUNICORN_B, GUNICORN_SECOND)):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
             "--access-logfile", str(log), "--access-logformat", fmt, "app:app"],
            cwd=root, env={**os.environ, "TZ": "UTC"},
        )  # fmt: skip
        try:
            wait_port(port, proc)
            sent.append({"format": fmt, "requests": [send(port, m, t) for m, t in requests]})
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    out = HERE / "gunicorn"
    out.mkdir(exist_ok=True)
    (out / "changed_midway.log").write_bytes(log.read_bytes())
    version = subprocess.run([sys.executable, "-m", "gunicorn", "--version"],
                             capture_output=True, text=True).stdout.strip()  # fmt: skip
    (out / "requests.json").write_text(json.dumps({"gunicorn": version, "phases": sent},
                                                  indent=1) + "\n")  # fmt: skip


if __name__ == "__main__":
    record_nginx()
    record_gunicorn()
