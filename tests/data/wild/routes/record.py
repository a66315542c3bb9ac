"""Re-record the route-inference corpus: two small Flask apps behind real Gunicorn.

    .venv/bin/python tests/data/wild/routes/record.py [--gunicorn PATH]

Starts ``gunicorn`` on 127.0.0.1 (a free port) for forum_app and depot_app in
turn, sends a bounded, seeded request sequence with Zipf-like popularity
(urllib, one request at a time, every request awaited), stops the server, and
gzips the access log into this directory. Nothing here needs the network
beyond 127.0.0.1. The truth is each app's own ``url_map`` (see README.md).
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ["dana", "hugo", "mila", "olga", "ivan", "sara", "tom", "lena", "omar", "yuki", "anna",
         "piet", "zoe", "raj", "eva", "max", "noor", "li", "kai", "ines"]  # fmt: skip
LAST = ["wagner", "wolf", "galeev", "smith", "kowalski", "ito", "moreau", "silva", "berg",
        "novak", "khan", "rossi"]  # fmt: skip
WORDS = ["tuning", "postgres", "gunicorn", "workers", "latency", "index", "vacuum", "flask",
         "deploy", "cache", "queue", "timeouts", "memory", "leak", "pool", "nginx", "logs",
         "profiling", "slow", "queries", "why", "how", "to", "fix", "my", "the", "best"]  # fmt: skip
JUNK = ["/wp-login.php", "/.env", "/admin.php", "/xmlrpc.php", "/.git/config", "/phpmyadmin/"]


def zipf_pick(rng: random.Random, items: list[str], s: float = 1.1) -> str:
    """One item, the k-th (1-based) with weight 1/k**s."""
    weights = [1 / (k + 1) ** s for k in range(len(items))]
    return rng.choices(items, weights)[0]


def usernames(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        f, last = rng.choice(FIRST), rng.choice(LAST)
        style = rng.randrange(5)
        out.add([f"{f}_{last}{rng.randrange(1, 2000)}", f"{f}.{last}", f"{f}{rng.randrange(10, 99)}",
                 f"{f}_{last}", f"{f[0]}{last}"][style])  # fmt: skip
    return sorted(out, key=lambda u: rng.random())


def slugs(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        words = rng.sample(WORDS, rng.randrange(2, 6))
        if rng.random() < 0.5:
            words.insert(rng.randrange(len(words) + 1), str(rng.choice([3, 10, 2024, 15, 7])))
        out.add("-".join(words))
    return sorted(out, key=lambda u: rng.random())


def forum_paths(rng: random.Random, n: int) -> list[str]:
    users = usernames(rng, 220)
    topics = slugs(rng, 160)
    emails = [f"{u.replace('_', '.')}@{rng.choice(['evadav.com', 'mail.example.org', 'corp.io'])}"
              for u in users[:120]]  # fmt: skip
    paths = []
    for _ in range(n):
        r = rng.random()
        if r < 0.10:
            paths.append(rng.choice(["/", "/", "/latest", "/login"]))
        elif r < 0.14:
            paths.append(rng.choice(["/docs/install", "/docs/faq", "/docs/privacy"]))
        elif r < 0.40:
            u = urllib.parse.quote(zipf_pick(rng, users))
            paths.append(rng.choice([f"/user/{u}", f"/user/{u}", f"/user/{u}/posts",
                                     f"/user/{u}/followers"]))  # fmt: skip
        elif r < 0.62:
            t = zipf_pick(rng, topics)
            paths.append(f"/t/{t}" if rng.random() < 0.7 else f"/t/{t}/{rng.randrange(1, 9)}")
        elif r < 0.78:
            e = urllib.parse.quote(zipf_pick(rng, emails), safe="")
            paths.append(f"/api/users/{e}/stats")
        elif r < 0.92:
            paths.append(f"/api/v1/posts/{int(rng.paretovariate(1.2) * 100)}")
        elif r < 0.95:
            paths.append(f"/api/v1/search?q={rng.choice(WORDS)}")
        elif r < 0.99:
            paths.append(rng.choice(["/static/css/site.css", "/static/js/app.js",
                                     f"/static/img/avatars/{zipf_pick(rng, users)}.png"]))  # fmt: skip
        else:
            paths.append(rng.choice(JUNK))
    return paths


def static_files(folder: Path, paths: list[str]) -> None:
    """The files under /static/ that `paths` ask for, so they are served (200), not 404."""
    for p in paths:
        if p.startswith("/static/"):
            f = folder / urllib.parse.unquote(p[len("/static/") :])
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"x" * 100)


def depot_paths(rng: random.Random, n: int) -> list[str]:
    bins = sorted({f"{rng.choice('ABCDEFGH')}-{rng.randrange(1, 30):02d}-{rng.randrange(1, 12):02d}"
                   for _ in range(400)}, key=lambda b: rng.random())  # fmt: skip
    skus = [f"SKU-{rng.randrange(1, 99999):05d}" for _ in range(300)]
    suppliers = slugs(rng, 60)
    zones = [f"Z{c}{rng.randrange(1, 9)}" for c in "ABCDEFGHJK" for _ in range(2)]
    racks = [f"R{rng.randrange(1, 60)}{rng.choice('ab')}" for _ in range(80)]
    paths = []
    for _ in range(n):
        r = rng.random()
        if r < 0.05:
            paths.append("/healthz")
        elif r < 0.35:
            b = zipf_pick(rng, bins, 1.0)
            paths.append(f"/inventory/locations/{b}" + ("/moves" if rng.random() < 0.3 else ""))
        elif r < 0.50:
            paths.append(f"/inventory/items/{zipf_pick(rng, skus)}")
        elif r < 0.70:
            o = 10_000 + int(rng.paretovariate(1.1) * 50)
            paths.append(rng.choice([f"/orders/{o}", f"/orders/{o}", f"/orders/{o}/lines",
                                     "/orders/new", "/orders/export"]))  # fmt: skip
        elif r < 0.80:
            paths.append(f"/suppliers/{zipf_pick(rng, suppliers)}")
        elif r < 0.90:
            paths.append(f"/zones/{zipf_pick(rng, zones)}/racks/{zipf_pick(rng, racks)}")
        elif r < 0.95:
            paths.append(rng.choice(["/reports/daily", "/reports/weekly"]))
        elif r < 0.99:
            paths.append(f"/api/v2/shipments/{_uuid(rng)}")
        else:
            paths.append(rng.choice(JUNK))
    return paths


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NGINX_CONF = """worker_processes 1; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {tmp}/nginx_access.log combined;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://127.0.0.1:{upstream}; }} }}
}}
"""


def record(
    app: str, paths: list[str], out: Path, gunicorn: str, log_format: str | None,
    nginx: str | None = None,
) -> None:  # fmt: skip
    """Serve `app`, send `paths`, gzip the access log to `out` (nginx's when `nginx` fronts it)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        front = None
        if nginx:
            upstream, port = port, free_port()
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, upstream=upstream))
            os.chmod(tmp, 0o755)
            front = subprocess.Popen([nginx, "-c", str(conf), "-p", tmp])
        bind = upstream if nginx else port
        cmd = [gunicorn, "-w", "2", "-b", f"127.0.0.1:{bind}", "--access-logfile", str(log),
               "--chdir", str(HERE), f"{app}:app"]  # fmt: skip
        if log_format:
            cmd[-1:-1] = ["--access-logformat", log_format]
        print(" ".join(cmd), file=sys.stderr)
        server = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
        try:
            for wait_for in {bind, port}:
                for _ in range(100):  # bounded wait for the port
                    try:
                        socket.create_connection(("127.0.0.1", wait_for), timeout=0.2).close()
                        break
                    except OSError:
                        time.sleep(0.1)
            for p in paths:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{p}", timeout=5).read()
                except urllib.error.HTTPError as exc:  # 404s of the junk are part of the log
                    exc.read()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            if front is not None:
                front.send_signal(signal.SIGQUIT)  # graceful: the log is flushed
                front.wait(timeout=30)
        if nginx:
            log = Path(tmp) / "nginx_access.log"
        with log.open("rb") as src, gzip.GzipFile(out, "wb", mtime=0) as dst:
            shutil.copyfileobj(src, dst)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gunicorn", default=str(Path(sys.executable).with_name("gunicorn")))
    parser.add_argument("--suffix", default="")
    parser.add_argument("--nginx", help="nginx binary: record the forum behind it (its log)")
    args = parser.parse_args()
    version = subprocess.run([args.gunicorn, "--version"], capture_output=True, text=True)
    print(version.stdout.strip() or version.stderr.strip(), file=sys.stderr)
    timed = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
    forum = forum_paths(random.Random(7), 3000)
    with tempfile.TemporaryDirectory() as static:
        static_files(Path(static), forum)
        os.environ["FORUM_STATIC"] = static
        if args.nginx:  # only the forum, through nginx's reverse proxy, nginx's combined log
            out = HERE / f"forum{args.suffix or '_nginx'}.access.log.gz"
            record("forum_app", forum, out, args.gunicorn, None, nginx=args.nginx)
            return
        record("forum_app", forum, HERE / f"forum{args.suffix}.access.log.gz", args.gunicorn, None)
    record("depot_app", depot_paths(random.Random(11), 3000),
           HERE / f"depot{args.suffix}.access.log.gz", args.gunicorn, timed)  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
