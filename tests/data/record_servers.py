"""Record access logs from real nginx and Apache httpd for the loader tests.

Starts the tiny WSGI app (tests/apps/tiny_wsgi.py) under Gunicorn as an
upstream, nginx and Apache on 127.0.0.1 (static files, a proxy to the app,
and for nginx an upstream pair whose first member is down), sends the
requests in `REQUESTS`, and copies the logs the servers wrote into
tests/data/ with `servers_expected.json` (what was sent, in order).

Run as root on Debian with nginx-light and apache2 installed:
    .venv/bin/python tests/data/record_servers.py
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

NGINX_FORMATS = {
    "nginx_combined.log": "combined",
    "nginx_timed.log": (
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" rt=$request_time urt="$upstream_response_time"'
    ),
    "nginx_iso.log": '$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent $request_time',
}
APACHE_FORMATS = {
    "apache_combined_D.log": '%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\" %D',
    "apache_common.log": '%h %l %u %t \\"%r\\" %>s %b',
}
# (method, target, headers, note); the same list is sent to both servers
REQUESTS = [
    ("GET", "/index.html", {}, "static file"),
    ("GET", "/missing.php?id=1", {}, "404"),
    ("GET", "/app/sleep?ms=120", {}, "proxied, 120 ms"),
    ("GET", "/app/status/500", {}, "proxied 500"),
    (
        "GET",
        "/app/orders/17?api_key=SEKRET&page=2",
        {"Referer": "https://wh.example.com/a?token=SEKRET"},
        "secrets",
    ),
    ("POST", "/app/orders", {"User-Agent": 'curl "quoted" \\ agent'}, "quotes and backslash in UA"),
    (
        "GET",
        "/app/bytes/2048",
        {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"},
        "2 kB body",
    ),
    ("HEAD", "/index.html", {}, "HEAD"),
    ("GET", "/pair/sleep?ms=30", {}, "nginx: first upstream down, second answers"),
    (
        "GET",
        "/app/caf%C3%A9?q=%22x%22",
        {"User-Agent": "ua-\u00e9t\u00e9"},
        "percent-encoding, non-ASCII UA",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def send(port: int, method: str, target: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{target}", method=method)
    for key, value in headers.items():
        request.add_header(key, value.encode("utf-8").decode("latin-1"))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def nginx_conf(tmp: Path, port: int, app: int, dead: int, docroot: Path) -> str:
    formats = "\n".join(
        f"  log_format f{i} '{fmt}';"
        for i, fmt in enumerate(NGINX_FORMATS.values())
        if fmt != "combined"
    )
    logs = "\n".join(
        f"  access_log {tmp}/{name} {'combined' if fmt == 'combined' else f'f{i}'};"
        for i, (name, fmt) in enumerate(NGINX_FORMATS.items())
    )
    temps = " ".join(
        f"{k}_temp_path {tmp}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx_error.log;
events {{ worker_connections 64; }}
http {{
{formats}
{logs}
  {temps}
  upstream pair {{ server 127.0.0.1:{dead}; server 127.0.0.1:{app}; }}
  server {{
    listen 127.0.0.1:{port};
    root {docroot};
    location /app/ {{ proxy_pass http://127.0.0.1:{app}/; }}
    location /pair/ {{ proxy_pass http://pair/; }}
  }}
}}
"""


def apache_conf(tmp: Path, port: int, app: int, docroot: Path) -> str:
    modules = "/usr/lib/apache2/modules"
    formats = "\n".join(f'LogFormat "{fmt}" f{i}' for i, fmt in enumerate(APACHE_FORMATS.values()))
    logs = "\n".join(f"CustomLog {tmp}/{name} f{i}" for i, name in enumerate(APACHE_FORMATS))
    return f"""
ServerName localhost
Listen 127.0.0.1:{port}
PidFile {tmp}/apache.pid
ErrorLog {tmp}/apache_error.log
Mutex file:{tmp}
User www-data
Group www-data
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
DocumentRoot {docroot}
<Directory {docroot}>
  Require all granted
</Directory>
ProxyPass /app/ http://127.0.0.1:{app}/
ProxyPass /pair/ http://127.0.0.1:{app}/
{formats}
{logs}
"""


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="perfkit-rec-"))
    tmp.chmod(0o755)
    docroot = tmp / "www"
    docroot.mkdir()
    (docroot / "index.html").write_text("<h1>warehouse</h1>\n")
    docroot.chmod(0o755)
    app, dead, nginx_port, apache_port = (free_port() for _ in range(4))
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-b",
                    f"127.0.0.1:{app}",
                    "-w",
                    "2",
                    "tests.apps.tiny_wsgi:app",
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        (tmp / "nginx.conf").write_text(nginx_conf(tmp, nginx_port, app, dead, docroot))
        procs.append(subprocess.Popen(["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp)]))
        (tmp / "apache.conf").write_text(apache_conf(tmp, apache_port, app, docroot))
        procs.append(subprocess.Popen(["apache2", "-f", str(tmp / "apache.conf"), "-DFOREGROUND"]))
        for port in (app, nginx_port, apache_port):
            wait_port(port)
        expected = {"nginx": [], "apache": []}
        for server, port in (("nginx", nginx_port), ("apache", apache_port)):
            for method, target, headers, note in REQUESTS:
                status = send(port, method, target, headers)
                expected[server].append(
                    {
                        "method": method,
                        "target": target,
                        "headers": headers,
                        "status": status,
                        "note": note,
                    }
                )
        time.sleep(1.0)  # let the servers flush their logs
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM if proc.args[0] != "nginx" else signal.SIGQUIT)
            proc.wait(timeout=20)
    for name in [*NGINX_FORMATS, *APACHE_FORMATS]:
        shutil.copy(tmp / name, HERE / name)
    versions = {
        "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),
        "apache": subprocess.run(
            ["apache2", "-v"], capture_output=True, text=True
        ).stdout.splitlines()[0],
    }
    formats = {**NGINX_FORMATS, **{k: v.replace('\\"', '"') for k, v in APACHE_FORMATS.items()}}
    manifest = {"versions": versions, "formats": formats, "requests": expected}
    (HERE / "servers_expected.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    )
    shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
