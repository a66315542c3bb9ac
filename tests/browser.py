"""Open an HTML file in a real headless Chromium with the network blocked; return the DOM.

Debian's ``chromium`` (installed by ``make test`` when missing). As root it
needs ``--no-sandbox``; a fresh profile folder per run; every host name
resolves to nothing and every request goes to a dead proxy, so a page that
needs the network shows it. Console messages come from Chromium's own log.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CONSOLE = re.compile(r"CONSOLE\(\d+\)\] \"(?P<message>.*)\", source: (?P<source>\S*)")


@dataclass
class Page:
    dom: str
    console: list[str]
    log: str

    def count(self, needle: str) -> int:
        return self.dom.count(needle)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium is not installed: `make test` installs Debian's chromium")


def open_page(path: Path, budget_ms: int = 20000) -> Page:
    with tempfile.TemporaryDirectory(prefix="perfkit-chromium-") as profile:
        run = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--proxy-server=http://127.0.0.1:9", "--enable-logging=stderr", "--v=0",
             f"--virtual-time-budget={budget_ms}", "--dump-dom", path.resolve().as_uri()],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    console = [m["message"] for m in CONSOLE.finditer(run.stderr)]
    return Page(run.stdout, console, run.stderr)
