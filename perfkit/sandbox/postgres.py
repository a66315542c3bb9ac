"""A throw-away PostgreSQL cluster (tests, the reference workload): initdb + pg_ctl,
pg_stat_statements preloaded.

Runs the server as the ``postgres`` user when the tests run as root (the
server refuses root), on 127.0.0.1 and a free port, with its socket and data
in a fresh temporary folder. Waits for readiness by polling, never sleeps
blindly; stops the server and removes the folder when done.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One server: `dsn(user=..., dbname=...)` to connect, `stop()`/`start()` to control it."""

    def __init__(self, preload: bool = True, settings: tuple[str, ...] = ()) -> None:
        """`settings`: extra postgresql.conf lines (e.g. ``"log_statement = 'all'"``)."""
        self.bin = bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="perfkit-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user = "postgres" if os.geteuid() == 0 else None
        if self.as_user:
            entry = pwd.getpwnam(self.as_user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.root}'",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "pg_stat_statements.track = all",
            "pg_stat_statements.max = 10000",
            "track_io_timing = on",
            "log_line_prefix = '[%a] '",
            *settings,
        ]
        if preload:
            lines.append("shared_preload_libraries = 'pg_stat_statements'")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n".join(lines) + "\n")
        self.start()

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / tool), *args]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=check)

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False)
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"PostgreSQL did not become ready: {(self.root / 'server.log').read_text()[-2000:]}"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def dsn(
        self, user: str = "postgres", dbname: str = "postgres", password: str | None = None
    ) -> str:
        text = f"host=127.0.0.1 port={self.port} user={user} dbname={dbname}"
        return text + (f" password={password}" if password else "")

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        result = self._run(
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            dbname,
            "-At",
            "-c",
            sql,
        )
        return result.stdout

    def pgbench(self, *args: str, dbname: str = "postgres") -> str:
        result = self._run(
            "pgbench", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", *args, dbname
        )
        return result.stdout + result.stderr

    def log(self) -> str:
        """The server log so far (statements are logged with the application name)."""
        return (self.root / "server.log").read_text(errors="replace")

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
