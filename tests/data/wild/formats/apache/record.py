"""Record real Apache 2.4 access logs, one CustomLog per LogFormat in FORMATS.

Usage (as root, apache2 installed): python tests/data/wild/formats/apache/record.py
Writes <name>.log for each format, formats.json (name -> LogFormat string) and
requests.json (the requests sent: method, target, the status/size/sleep the CGI
was told to answer with, client-side UTC send/receive times) into this folder.
A throw-away Apache runs on 127.0.0.1 on a free port, ServerRoot under /tmp,
TZ=Asia/Kolkata (+05:30, so local-time formats are distinguishable from UTC).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TZ = "Asia/Kolkata"

FORMATS: dict[str, str] = {
    "common": '%h %l %u %t "%r" %>s %b',
    "combined_D": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D',
    "orig_final": '%h %t "%r" %<s %s %>s',
    "orig_final_order": '%t "%r" %<>s %><s %>s',
    "strftime_local": '%h %{%Y-%m-%d %H:%M:%S}t "%r" %>s %D',
    "strftime_msec_doc": '%h [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] "%r" %>s %b',
    "strftime_usec_iso": '%{begin:%Y-%m-%dT%H:%M:%S}t.%{begin:usec_frac}t%{begin:%z}t "%r" %>s',
    "combined_plus_iso_msec": (
        '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %{%Y-%m-%dT%H:%M:%S}t.%{msec_frac}t'
    ),
    "epoch_all": '%{end:sec}t %{end:msec}t %{end:usec}t %{begin:usec}t "%r" %>s',
    "epoch_sec": '%{sec}t "%r" %>s %D',
    "epoch_msec": '%{msec}t "%r" %>s %D',
    "epoch_usec": '%{usec}t "%r" %>s %D',
    "end_clf": '%{end}t "%r" %>s %D',
    "begin_clf": '%{begin}t %{end:%d/%b/%Y:%H:%M:%S %z}t "%r" %>s',
    "strftime_rfc2822": '[%{%a, %d %b %Y %H:%M:%S %z}t] "%r" %>s',
    "strftime_aliases": '%{%F %T %z}t "%r" %>s %{ms}T',
    "strftime_doy": '%{%Y/%j %H:%M:%S}t "%r" %>s',
    "strftime_epoch_s": '%{%s}t "%r" %>s',
    "units": '%t "%r" %>s %{ms}T %{us}T %{s}T %{MS}T %{Us}T %T %D',
    "conditions": '%t "%r" %>s "%400,501{User-agent}i" %!200T %>!200T %!200,304D %200,201b',
    "condition_request": '%t "%400r" %>s %D',
    "opaque": (
        '%t "%r" %>s %{SSL_PROTOCOL}x %{REMOTE}p %{TID}P %{VAR}x %{pid}P %{hextid}P '
        "%{local}p %{canonical}p %p %A %a %{c}a %{c}h %v %V %X %k %L %R %I %O %S %^FB"
    ),
    "ssl_combined_opensuse": (
        '%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x "%r" %b "%{Referer}i" "%{User-Agent}i"'
    ),
    "parts": "%h %t %m %U%q %H %>s %B %b %P",
    "vars": (
        '%t "%r" %>s "%{X-Forwarded-For}i" "%{Content-Type}o" "%{UNSET}e" "%{note}n" '
        '"%{session}C" "%{Trailer}^ti" "%{Trailer}^to" %f'
    ),
    "percent": '%t %% "%r" %>s %%%D',
}

# (method, target, headers, body)
REQUESTS: list[tuple[str, str, dict[str, str], bytes]] = [
    ("GET", "/static/a.txt", {}, b""),
    ("GET", "/cgi-bin/app.py?status=201&size=10&sleep=150", {"Referer": "http://r.example/x"}, b""),
    ("POST", "/cgi-bin/app.py?status=503&size=0&sleep=20&token=s3cret", {}, b"a=1"),
    ("GET", "/nope", {}, b""),
    ("GET", "/old", {}, b""),
    ("HEAD", "/static/a.txt", {}, b""),
    (
        "GET",
        "/cgi-bin/app.py?status=400&size=5&sleep=0",
        {
            "User-Agent": 'perf "quoted" \\agent',
            "X-Forwarded-For": "10.1.2.3",
            "Cookie": "session=abc123",
        },
        b"",
    ),
    ("DELETE", "/cgi-bin/app.py?status=204&size=0&sleep=5", {}, b""),
    ("PUT", "/cgi-bin/app.py?status=500&size=7&sleep=1100", {}, b"x" * 20),
    ("GET", "/missing-doc", {}, b""),
    ("GET", "/cgi-bin/app.py?status=304&size=0&sleep=0", {}, b""),
]

APP = r"""#!/usr/bin/python3
import os, sys, time
from urllib.parse import parse_qs
q = {k: v[0] for k, v in parse_qs(os.environ.get("QUERY_STRING", "")).items()}
time.sleep(int(q.get("sleep", "0")) / 1000)
status = int(q.get("status", "200"))
size = int(q.get("size", "0"))
sys.stdout.write(f"Status: {status} X\r\nContent-Type: text/plain\r\n\r\n")
sys.stdout.write("y" * size)
"""

ERR = r"""#!/usr/bin/python3
import sys
sys.stdout.write("Status: 410 Gone\r\nContent-Type: text/plain\r\n\r\ngone")
"""


# formats Apache must refuse at configuration time; its own message is recorded as the truth
MALFORMED = ["%t %", "%t %{param", "%t %^x", "%t %{x}", "%t %400", "%t % s", "%h %t %>"]


def record_malformed() -> None:
    """Run `apache2 -t` on a config with each malformed LogFormat; keep Apache's verdict."""
    verdicts = {}
    for fmt in MALFORMED:
        with tempfile.TemporaryDirectory() as root:
            mods = "/usr/lib/apache2/modules"
            escaped = fmt.replace("\\", "\\\\").replace('"', '\\"')
            conf = Path(root) / "c.conf"
            conf.write_text(
                f"ServerRoot {root}\nListen 127.0.0.1:1\nErrorLog {root}/e.log\n"
                f"LoadModule mpm_prefork_module {mods}/mod_mpm_prefork.so\n"
                f"LoadModule authz_core_module {mods}/mod_authz_core.so\n"
                f'LogFormat "{escaped}" x\n'
            )
            done = subprocess.run(["apache2", "-f", str(conf), "-t"], capture_output=True,
                                  text=True)  # fmt: skip
            message = " ".join((done.stderr + done.stdout).split()).replace(root, "ROOT")
            verdicts[fmt] = {"exit": done.returncode, "message": message}
    (HERE / "malformed.json").write_text(json.dumps(verdicts, indent=1) + "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="perfkit_apache_"))
    (root / "htdocs" / "static").mkdir(parents=True)
    (root / "htdocs" / "static" / "a.txt").write_bytes(b"z" * 1234)
    cgi = root / "cgi-bin"
    cgi.mkdir()
    for name, text in (("app.py", APP), ("err.py", ERR)):
        (cgi / name).write_text(text)
        (cgi / name).chmod(0o755)
    logs = root / "logs"
    logs.mkdir()
    port = free_port()
    mods = "/usr/lib/apache2/modules"
    lines = [
        f"ServerRoot {root}",
        f"Listen 127.0.0.1:{port}",
        "ServerName rec.test",
        f"PidFile {root}/httpd.pid",
        f"ErrorLog {logs}/error.log",
        "TypesConfig /etc/mime.types",
        f"LoadModule mpm_prefork_module {mods}/mod_mpm_prefork.so",
        f"LoadModule authz_core_module {mods}/mod_authz_core.so",
        f"LoadModule alias_module {mods}/mod_alias.so",
        f"LoadModule cgi_module {mods}/mod_cgi.so",
        f"LoadModule mime_module {mods}/mod_mime.so",
        f"LoadModule ssl_module {mods}/mod_ssl.so",
        "LogIOTrackTTFB On",
        f"DocumentRoot {root}/htdocs",
        f'ScriptAlias /cgi-bin/ "{cgi}/"',
        "Redirect 301 /old /static/a.txt",
        "ErrorDocument 404 /cgi-bin/err.py",
        f'<Directory "{root}">\n  Require all granted\n</Directory>',
    ]
    for name, fmt in FORMATS.items():
        escaped = fmt.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'LogFormat "{escaped}" {name}')
        lines.append(f"CustomLog {logs}/{name}.log {name}")
    conf = root / "httpd.conf"
    conf.write_text("\n".join(x for x in lines if x) + "\n")
    env = {**os.environ, "TZ": TZ, "APACHE_RUN_USER": "root"}
    subprocess.run(["apache2", "-f", str(conf), "-t"], check=True, env=env)
    proc = subprocess.Popen(["apache2", "-f", str(conf), "-X"], env=env)
    sent = []
    try:
        for _ in range(100):  # bounded wait for the port
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit(f"apache2 exited: see {logs}/error.log") from None
                time.sleep(0.1)
        for method, target, headers, body in REQUESTS:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            before = time.time()
            conn.request(method, target, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            after = time.time()
            conn.close()
            sent.append({
                "method": method, "target": target, "headers": headers,
                "response_status": response.status, "response_body_bytes": len(data),
                "before_utc_s": before, "after_utc_s": after,
            })  # fmt: skip
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for name in FORMATS:
        shutil.copy(logs / f"{name}.log", HERE / f"{name}.log")
    (HERE / "formats.json").write_text(json.dumps(FORMATS, indent=1) + "\n")
    (HERE / "requests.json").write_text(json.dumps(sent, indent=1) + "\n")
    version = subprocess.run(["apache2", "-v"], capture_output=True, text=True).stdout
    (HERE / "apache_version.txt").write_text(version)
    print(f"recorded {len(sent)} requests x {len(FORMATS)} formats in {HERE}", file=sys.stderr)


if __name__ == "__main__":
    record_malformed()
    if "--malformed-only" not in sys.argv:
        main()
