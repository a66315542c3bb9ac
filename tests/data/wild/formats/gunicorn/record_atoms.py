"""Record real Gunicorn access logs: its default format and the default plus common atoms.

Usage (project venv with gunicorn + flask):
    .venv/bin/python tests/data/wild/formats/gunicorn/record_atoms.py
Writes atoms/<variant>.log (one Gunicorn run per `--access-logformat` variant, the same
requests each time) and atoms/requests.json (formats, requests, client-side times).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from record_json_sniff import APP, free_port, send, wait_port  # noqa: E402

DEFAULT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'  # Gunicorn 27's own
VARIANTS = {
    "default": DEFAULT,
    "D": DEFAULT + " %(D)s",
    "D_p": DEFAULT + " %(D)s %(p)s",  # what perfkit's recorder writes (data/baseline)
    "L": DEFAULT + " %(L)s",
    "L_quoted": DEFAULT + ' "%(L)s"',
    "T": DEFAULT + " %(T)s",
    "M": DEFAULT + " %(M)s",
    "p": DEFAULT + " %(p)s",
    "p_D": DEFAULT + " %(p)s %(D)s",
    "T_D": DEFAULT + " %(T)s %(D)s",
}
REQUESTS = [("GET", "/health"), ("GET", "/sleep/30"), ("PUT", "/users/2"), ("GET", "/fail"),
            ("GET", "/sleep/120"), ("GET", "/nope?x=1"), ("GET", "/sleep/1100"),
            ("GET", "/users/3")]  # fmt: skip


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="perfkit_gunicorn_atoms_"))
    (root / "app.py").write_text(APP)
    out = HERE / "atoms"
    out.mkdir(exist_ok=True)
    runs = {}
    for name, fmt in VARIANTS.items():
        log = root / f"{name}.log"
        port = free_port()
        args = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                "--access-logfile", str(log), "app:app"]  # fmt: skip
        if fmt != DEFAULT:  # the default run passes no --access-logformat at all
            args[-1:-1] = ["--access-logformat", fmt]
        proc = subprocess.Popen(args, cwd=root, env={**os.environ, "TZ": "UTC"})
        try:
            wait_port(port, proc)
            sent = [send(port, m, t) for m, t in REQUESTS]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        (out / f"{name}.log").write_bytes(log.read_bytes())
        runs[name] = {"format": fmt, "command": " ".join(args[1:]), "requests": sent}
    version = subprocess.run([sys.executable, "-m", "gunicorn", "--version"],
                             capture_output=True, text=True).stdout.strip()  # fmt: skip
    (out / "requests.json").write_text(json.dumps({"gunicorn": version, "runs": runs},
                                                  indent=1) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
