"""Serve snakeviz on a profile for interactive investigation (JupyterLab or a browser).

snakeviz has no static export, so shared reports use `perfkit.plots.flame`;
this is for digging in live. In a notebook, ``%load_ext snakeviz`` then
``%snakeviz code()`` profiles a statement; `open_snakeviz` opens an existing
dump, or a merged/sampled `Profile` written to a temporary dump.
"""

from __future__ import annotations

import html
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from perfkit.errors import InputError
from perfkit.io.profile import Profile, read_profile


@dataclass
class SnakevizServer:
    """A running snakeviz server: its `url`; `stop()` ends it (also on leaving a ``with``)."""

    url: str
    path: Path
    process: subprocess.Popen = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> SnakevizServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _repr_html_(self) -> str:
        """A link and an inline frame; the file name is text, the URL an escaped attribute."""
        name, url = html.escape(self.path.name, quote=True), html.escape(self.url, quote=True)
        return (
            f'<p>snakeviz on <code>{name}</code>: <a href="{url}" target="_blank">'
            f'open in a new tab</a></p><iframe src="{url}" width="100%" height="650"></iframe>'
        )


def open_snakeviz(
    path_or_profile: str | os.PathLike | Profile,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout_s: float = 30.0,
) -> SnakevizServer:
    """Start snakeviz (server mode, no browser) on a dump or a `Profile` and return its URL.

    A `Profile` (e.g. many per-request dumps merged, or a py-spy profile) is
    first written as one pstats dump in a temporary folder.
    """
    path = _dump_for(path_or_profile)
    port = port or _free_port(host)
    log = Path(tempfile.mkdtemp(prefix="perfkit-snakeviz-log-")) / "snakeviz.log"
    with open(log, "w") as out:  # a file, not a pipe: a long session never blocks on it
        process = subprocess.Popen(
            [sys.executable, "-m", "snakeviz", "--server", "-H", host, "-p", str(port), str(path)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{host}:{port}/snakeviz/{quote(str(path), safe='')}"
    _wait_listening(host, port, process, timeout_s, log)
    return SnakevizServer(url, path, process)


def _dump_for(source: str | os.PathLike | Profile) -> Path:
    if isinstance(source, Profile):
        folder = Path(tempfile.mkdtemp(prefix="perfkit-snakeviz-"))
        return source.to_pstats(folder / "merged.prof")
    path = Path(source).resolve()
    profile = read_profile(path)  # checks it is a profile, with a clear error if not
    if profile.kind == "sampled":
        folder = Path(tempfile.mkdtemp(prefix="perfkit-snakeviz-"))
        return profile.to_pstats(folder / f"{path.stem}.prof")
    return path


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _wait_listening(
    host: str, port: int, process: subprocess.Popen, timeout_s: float, log: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            raise InputError(f"snakeviz exited before serving: {output.strip()[-500:]}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise TimeoutError(f"snakeviz did not listen on {host}:{port} within {timeout_s} s")
