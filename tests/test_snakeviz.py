"""open_snakeviz serves a real snakeviz on 127.0.0.1 with the profile's data, also through a
notebook server's proxy (the URL it builds in each case; the page and its assets through a proxy)."""

from __future__ import annotations

import cProfile
import http.server
import importlib.machinery
import json
import re
import subprocess
import sys
import threading
import types
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import snakeviz

from perfkit import open_snakeviz, read_profile
from perfkit.report.snakeviz import snakeviz_url
from tests.conftest import DATA


def work():
    return sorted(json.dumps({"k": list(range(500))}) for _ in range(200))


def test_snakeviz_serves_a_merged_dump(tmp_path):
    paths = []
    for i in range(3):
        profiler = cProfile.Profile()
        profiler.runcall(work)
        paths.append(tmp_path / f"{i}.prof")
        profiler.dump_stats(paths[-1])
    merged = read_profile(paths)
    with open_snakeviz(merged) as server:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url, timeout=20) as response:
            assert response.status == 200
            page = response.read().decode()
        assert "table_data" in page and "test_snakeviz.py" in page and "work" in page
        process = server.process
    assert process.poll() is not None  # stopped on leaving the block
    assert "iframe" in server._repr_html_()


def test_snakeviz_on_a_py_spy_profile():
    with (
        open_snakeviz(DATA / "profiles" / "pyspy_work.speedscope.json") as server,
        urllib.request.urlopen(server.url, timeout=20) as response,
    ):
        assert response.status == 200
        assert "regex" in response.read().decode()


# --- behind a notebook server's proxy (remote JupyterLab, JupyterHub) -----------------------

PAGE = "snakeviz/%2Ftmp%2Fa%20b.prof"


@pytest.fixture
def no_proxy(monkeypatch):
    """In a Jupyter kernel, with no proxy."""
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.setitem(sys.modules, "jupyter_server_proxy", None)  # not importable
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))


def test_the_url_is_direct_without_a_proxy(no_proxy):
    assert snakeviz_url("/tmp/a b.prof", 8123) == f"http://127.0.0.1:8123/{PAGE}"


def test_the_url_is_direct_outside_a_kernel(no_proxy, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    monkeypatch.delitem(sys.modules, "ipykernel")
    assert snakeviz_url("/tmp/a b.prof", 8123) == f"http://127.0.0.1:8123/{PAGE}"


def test_the_url_goes_through_the_hub_prefix(no_proxy, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    assert snakeviz_url("/tmp/a b.prof", 8123) == f"/user/alice/proxy/8123/{PAGE}"
    assert snakeviz_url("/tmp/a b.prof", 8123, url_prefix="") == f"http://127.0.0.1:8123/{PAGE}"


def test_the_url_goes_through_jupyter_server_proxy_when_importable(no_proxy, monkeypatch):
    fake = types.ModuleType("jupyter_server_proxy")
    fake.__spec__ = importlib.machinery.ModuleSpec("jupyter_server_proxy", None)
    monkeypatch.setitem(sys.modules, "jupyter_server_proxy", fake)
    assert snakeviz_url("/tmp/a b.prof", 8123) == f"/proxy/8123/{PAGE}"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("https://hub.example.org/user/bob/proxy/", "https://hub.example.org/user/bob/proxy/8123/"),
     ("/lab/proxy", "/lab/proxy/8123/"), ("/vscode/ports/{port}/x/", "/vscode/ports/8123/x/")],
)  # fmt: skip
def test_an_explicit_prefix_wins(monkeypatch, prefix, expected):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    assert snakeviz_url("/tmp/a b.prof", 8123, url_prefix=prefix) == expected + PAGE


class PathProxy(http.server.BaseHTTPRequestHandler):
    """A reverse proxy as jupyter-server-proxy is: /user/alice/proxy/PORT/rest -> 127.0.0.1."""

    requested: list[str] = []  # noqa: RUF012 - the paths asked for, in order

    def do_GET(self) -> None:
        self.requested.append(self.path)
        match = re.fullmatch(r"/user/alice/proxy/(\d+)(/.*)", self.path)
        if match is None:
            self.send_error(404)
            return
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{match[1]}{match[2]}", timeout=20) as r:
                status, kind, body = r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as exc:
            status, kind, body = exc.code, "text/plain", b""
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # the worker fetches its own copy
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and "static" in value:
                self.links.append(value)


def test_snakeviz_loads_through_a_path_proxy(tmp_path):
    profiler = cProfile.Profile()
    profiler.runcall(work)
    profiler.dump_stats(tmp_path / "w.prof")
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PathProxy)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{proxy.server_address[1]}/user/alice/proxy/"
    try:
        with open_snakeviz(tmp_path / "w.prof", url_prefix=base) as server:
            assert server.url.startswith(base) and server.local_url.startswith("http://127.0.0.1:")
            with urllib.request.urlopen(server.url, timeout=20) as response:
                page = response.read().decode()
            assert "table_data" in page and "work" in page
            links = Links()
            links.feed(page)
            assert len(links.links) >= 7  # styles and scripts
            static = Path(snakeviz.__file__).parent / "static"
            for link in links.links:
                url = urljoin(server.url, link)
                assert url.startswith(base), link  # inside the proxied server
                with urllib.request.urlopen(url, timeout=20) as response:
                    body = response.read()
                name = link.split("static/", 1)[1]
                if name != "snakeviz.js":
                    assert body == (static / name).read_bytes(), name
            with urllib.request.urlopen(urljoin(server.url, "../static/snakeviz.js")) as response:
                script = response.read().decode()
            root = 'new URL("..", window.location.href).href.replace(/\\/$/, "")'
            original = (static / "snakeviz.js").read_text()  # the worker's offline fallback
            assert "window.location.origin" in original and "window.location.origin" not in script
            assert script.replace(root, "window.location.origin") == original
            # the worker's offline fallback: the server's root as the rewritten script computes it
            assert "event.data['url'] + \"/static/vendor/immutable.min.js\"" in page
            with urllib.request.urlopen(
                urljoin(server.url, "..").rstrip("/") + "/static/vendor/immutable.min.js"
            ) as response:
                assert response.read() == (static / "vendor" / "immutable.min.js").read_bytes()
            # snakeviz's own root-relative links miss the proxied server
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(urljoin(server.url, "/static/snakeviz.css"), timeout=20)
    finally:
        proxy.shutdown()
        proxy.server_close()


@pytest.mark.slow
def test_snakeviz_draws_through_a_path_proxy_in_chromium(tmp_path):
    """Offline (every host name unresolved): the table fills from the proxied scripts and the
    chart's worker loads its libraries from the proxied server (else it logs an error)."""
    from tests.browser import chromium

    profiler = cProfile.Profile()
    profiler.runcall(work)
    profiler.dump_stats(tmp_path / "w.prof")
    PathProxy.requested.clear()
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PathProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{proxy.server_address[1]}/user/alice/proxy/"
    fetched: list[str] = []
    try:
        with open_snakeviz(tmp_path / "w.prof", url_prefix=base) as server:
            # the worker starts once the page has drawn: on a loaded machine the DOM can be
            # dumped before it asks for its library, so the page is loaded at most twice
            for attempt in range(2):
                PathProxy.requested.clear()
                run = subprocess.run(
                    [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     f"--user-data-dir={tmp_path / f'chromium{attempt}'}",
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                     "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000",
                     "--dump-dom", server.url],
                    capture_output=True, text=True, timeout=180,
                )  # fmt: skip
                fetched = [p for p in PathProxy.requested
                           if p.endswith("/static/vendor/immutable.min.js")]  # fmt: skip
                if len(fetched) >= 2:
                    break
    finally:
        proxy.shutdown()
        proxy.server_close()
    console = re.findall(r'CONSOLE[:(]\d+\)?\] "(.*?)", source', run.stderr)
    assert not [m for m in console if "Could not load" in m or "Error" in m], console
    rows = re.findall(r"<tr[ >]", run.stdout)
    assert len(rows) >= 5 and "work" in run.stdout  # DataTables drew the functions
    assert len(fetched) >= 2 and len(set(fetched)) == 1  # the page's, then the worker's
