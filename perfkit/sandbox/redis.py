"""A throw-away redis-server (tests, the example app): 127.0.0.1, a free port, no persistence.

`Server.command(...)` sends any command over its own socket (the tests' independent view
of the server, and their way to write, reset and restart); perfkit's collector uses the
read-only `perfkit.io.redis_wire.ReadOnlyRedis` instead. Waits poll with a deadline, never
sleep blindly; `close()` stops the server and removes its folder.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from perfkit.io.redis_wire import encode, read_reply

WAIT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Connection:
    """A plain RESP2 connection that sends any command (the sandbox's, never perfkit's)."""

    def __init__(self, port: int, host: str = "127.0.0.1", password: str | None = None) -> None:
        self.sock = socket.create_connection((host, port), timeout=WAIT_S)
        self.stream = self.sock.makefile("rb")
        if password:
            self.command("AUTH", password)

    def command(self, *args: str | bytes | int) -> Any:
        self.sock.sendall(encode(*args))
        return read_reply(self.stream)

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


class Server:
    """One redis-server; `url` to reach it, `command()`, `restart()`, `close()`."""

    def __init__(self, password: str | None = None, settings: tuple[str, ...] = ()) -> None:
        """`settings`: extra ``--name value`` arguments (e.g. ``("--maxmemory", "2mb")``)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found (tools/system-deps installs it)")
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="perfkit-redis-"))
        self.port = free_port()
        self.password = password
        self.args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(self.root), "--daemonize", "no",
                     "--logfile", str(self.root / "redis.log"), "--latency-tracking", "yes",
                     *(("--requirepass", password) if password else ()), *settings]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        secret = f":{self.password}@" if self.password else ""
        return f"redis://{secret}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log()[-2000:]}")
            try:
                if self.command("PING") == b"PONG":
                    return
            except (OSError, ValueError):
                time.sleep(0.02)
            except Exception as exc:  # LOADING: not ready yet
                if "LOADING" not in str(exc):
                    raise
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer PING: {self.log()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=WAIT_S)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def connect(self) -> Connection:
        return Connection(self.port, password=self.password)

    def command(self, *args: str | bytes | int) -> Any:
        """One command on a fresh connection (any command: this is the test's own client)."""
        connection = self.connect()
        try:
            return connection.command(*args)
        finally:
            connection.close()

    def commandstats(self) -> dict[str, dict[str, float]]:
        """INFO commandstats read independently of perfkit: command -> {calls, usec, ...}."""
        text = self.command("INFO", "commandstats").decode()
        out = {}
        for line in text.splitlines():
            if line.startswith("cmdstat_"):
                name, _, value = line.partition(":")
                out[name.removeprefix("cmdstat_")] = {
                    k: float(v) for k, v in (p.split("=") for p in value.split(","))}
        return out

    def stat(self, field: str) -> str:
        """One INFO field, read independently of perfkit."""
        for line in self.command("INFO", "all").decode().splitlines():
            if line.startswith(f"{field}:"):
                return line.split(":", 1)[1]
        raise KeyError(field)

    def benchmark(self, *args: str) -> str:
        """redis-benchmark against this server (e.g. ``"-t", "get,set", "-n", "1000"``)."""
        command = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(self.port), "-q", *args]
        if self.password:
            command[1:1] = ["-a", self.password]
        return subprocess.run(command, capture_output=True, text=True, timeout=120,
                              check=True).stdout  # fmt: skip

    def log(self) -> str:
        path = self.root / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
