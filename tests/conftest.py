"""Shared fixtures: real Gunicorn log lines, written by Gunicorn's own logger."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

DATA = Path(__file__).parent / "data"


class GunicornWriter:
    """Writes access-log lines with gunicorn.glogging.Logger, exactly as a worker does."""

    def __init__(self, path: Path, access_log_format: str | None = None) -> None:
        from gunicorn.config import Config
        from gunicorn.glogging import Logger

        cfg = Config()
        cfg.set("accesslog", str(path))
        if access_log_format is not None:
            cfg.set("access_log_format", access_log_format)
        self.logger = Logger(cfg)
        self.path = path

    def request(
        self,
        method: str = "GET",
        path: str = "/",
        query: str = "",
        status: str = "200 OK",
        sent: int | None = 123,
        duration: dt.timedelta = dt.timedelta(milliseconds=12, microseconds=345),
        referer: str | None = None,
        user_agent: str | None = "curl/8.0",
        headers: dict[str, str] | None = None,
        remote: str = "10.1.2.3",
    ) -> None:
        raw_uri = path + (f"?{query}" if query else "")
        environ = {
            "REQUEST_METHOD": method,
            "RAW_URI": raw_uri,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": remote,
            "wsgi.url_scheme": "https",
        }
        if referer is not None:
            environ["HTTP_REFERER"] = referer
        if user_agent is not None:
            environ["HTTP_USER_AGENT"] = user_agent
        req_headers = [(k.upper(), v) for k, v in (headers or {}).items()]
        req = SimpleNamespace(headers=req_headers)
        resp = SimpleNamespace(
            status=status, sent=sent, headers=[("Content-Type", "application/json")]
        )
        self.logger.access(resp, req, environ, duration)

    def close(self) -> None:
        for handler in self.logger.access_log.handlers:
            handler.flush()
            handler.close()
        self.logger.access_log.handlers.clear()
        logging.getLogger("gunicorn.access").handlers.clear()


@pytest.fixture
def gunicorn_log(tmp_path):
    """Factory: gunicorn_log(format=None) -> a GunicornWriter on a fresh file."""
    writers: list[GunicornWriter] = []

    def make(access_log_format: str | None = None, name: str = "access.log") -> GunicornWriter:
        writer = GunicornWriter(tmp_path / name, access_log_format)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.close()


@pytest.fixture(scope="session")
def pg():
    """A running throw-away PostgreSQL with pg_stat_statements (perfkit/sandbox/postgres.py)."""
    from perfkit.sandbox.postgres import Cluster

    cluster = Cluster(settings=("log_statement = 'all'",))  # the read-only test reads the log
    cluster.psql("create extension if not exists pg_stat_statements")
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def demo_reports(tmp_path_factory):
    """The four reports on the demo data (data/), rendered once per session as `perfkit demo`
    does: {name: (html path, summary dict)}; the executed notebook is kept beside each HTML
    (``<name>.ipynb``) for tests that open it in JupyterLab."""
    import json

    from perfkit.report.demo import run_demo

    out = tmp_path_factory.mktemp("demo-reports")
    written = run_demo(out, keep_notebook=True)
    return {p.stem: (p, json.loads(p.with_suffix(".json").read_text())) for p in written}


@pytest.fixture
def sleeper():
    """A process that sleeps for a minute (a target for the RSS collector), killed after."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()
