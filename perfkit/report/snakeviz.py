"""Serve snakeviz on a profile for interactive investigation (JupyterLab or a browser).

snakeviz has no static export, so shared reports use `perfkit.plots.flame`;
this is for digging in live. `open_snakeviz` opens an existing dump, or a
merged/sampled `Profile` written to a temporary dump, on 127.0.0.1 only, until
`stop()` (snakeviz's own ``%snakeviz`` magic listens on every interface and
stops after 3 s).

The page is shown through the notebook server's proxy when there is one, so it
works from a remote JupyterLab or JupyterHub: with ``url_prefix=`` given (the
proxy's URL for local ports, e.g. ``"/user/alice/proxy/"``; ``{port}`` is
replaced when present, else the port is appended), else under
``$JUPYTERHUB_SERVICE_PREFIX/proxy/PORT/`` on JupyterHub, else under the
relative ``/proxy/PORT/`` when ``jupyter-server-proxy`` is importable (these two
in a Jupyter kernel only), else directly at ``http://127.0.0.1:PORT/``.
snakeviz's page names its scripts and styles from the server's root
(``/static/...``); perfkit serves it with those made relative, so it also
loads under a proxy's path.
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
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
    """A running snakeviz server: `url` for the browser (through the notebook server's proxy
    when there is one), `local_url` on 127.0.0.1; `stop()` ends it (also on leaving a
    ``with``)."""

    url: str
    path: Path
    process: subprocess.Popen = field(repr=False)
    local_url: str = ""

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
    url_prefix: str | None = None,
) -> SnakevizServer:
    """Start snakeviz (server mode, no browser) on a dump or a `Profile` and return its URL.

    A `Profile` (e.g. many per-request dumps merged, or a py-spy profile) is
    first written as one pstats dump in a temporary folder. `url_prefix`: the
    proxy URL the browser reaches local ports through (see the module docstring;
    ``""`` for the direct URL); None chooses automatically. `timeout_s` in seconds.
    """
    path = _dump_for(path_or_profile)
    port = port or _free_port(host)
    log = Path(tempfile.mkdtemp(prefix="perfkit-snakeviz-log-")) / "snakeviz.log"
    with open(log, "w") as out:  # a file, not a pipe: a long session never blocks on it
        process = subprocess.Popen(
            [sys.executable, "-m", "perfkit.report.snakeviz", host, str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
        )
    _wait_listening(host, port, process, timeout_s, log)
    local = snakeviz_url(path, port, host, url_prefix="")
    return SnakevizServer(snakeviz_url(path, port, host, url_prefix), path, process, local)


def _env() -> dict[str, str]:
    """The environment with this perfkit importable, wherever it is installed."""
    here = str(Path(__file__).resolve().parents[2])
    extra = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": here + (os.pathsep + extra if extra else "")}


def snakeviz_url(
    path: str | os.PathLike, port: int, host: str = "127.0.0.1", url_prefix: str | None = None
) -> str:
    """The URL of snakeviz's page on `path` for a server on `host`:`port`, through a proxy:
    `url_prefix` when given (``""``: none), else `proxy_prefix()`."""
    page = f"snakeviz/{quote(str(path), safe='')}"
    prefix = proxy_prefix() if url_prefix is None else url_prefix
    if not prefix:
        return f"http://{host}:{port}/{page}"
    if "{port}" in prefix:
        return f"{prefix.replace('{port}', str(port)).rstrip('/')}/{page}"
    return f"{prefix.rstrip('/')}/{port}/{page}"


def proxy_prefix() -> str:
    """The notebook server's proxy for local ports, in a Jupyter kernel:
    ``$JUPYTERHUB_SERVICE_PREFIX/proxy/`` on JupyterHub, ``/proxy/`` when jupyter-server-proxy
    is importable; else ``""`` (none: outside a kernel a relative URL would lead nowhere)."""
    if "ipykernel" not in sys.modules:
        return ""
    hub = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "").strip()
    if hub:
        return "/" + hub.strip("/") + "/proxy/" if hub.strip("/") else "/proxy/"
    if importlib.util.find_spec("jupyter_server_proxy") is not None:
        return "/proxy/"
    return ""


def _dump_for(source: str | os.PathLike | Profile) -> Path:
    if isinstance(source, Profile):
        folder = Path(tempfile.mkdtemp(prefix="perfkit-snakeviz-"))
        return source.to_pstats(folder / "merged.prof")
    from perfkit.io.paths import locate

    path = locate(source).resolve()
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


def _relative(page: bytes) -> bytes:
    """snakeviz's page with its root-relative ``src``/``href`` links to ``/static/`` made
    page-relative (the worker's fallback URL is fixed in snakeviz.js, see `_serve`)."""
    return re.sub(rb"""\b((?:src|href)=["'])/static/""", rb"\1../static/", page)


def _serve(host: str, port: int) -> None:  # pragma: no cover - runs in the server process
    """snakeviz's own handlers on `host`:`port`, its links relative (works under a proxy)."""
    import tornado.ioloop
    import tornado.web
    from snakeviz import main

    static = main.settings["static_path"]

    class Viz(main.VizHandler):
        def render_string(self, template_name: str, **kwargs: object) -> bytes:
            return _relative(super().render_string(template_name, **kwargs))

    class Script(tornado.web.RequestHandler):  # its worker's fallback URL: the server's root
        def get(self) -> None:
            text = Path(static, "snakeviz.js").read_text(encoding="utf-8")
            root = 'new URL("..", window.location.href).href.replace(/\\/$/, "")'
            self.set_header("Content-Type", "application/javascript; charset=UTF-8")
            self.finish(text.replace("window.location.origin", root))

    app = tornado.web.Application(
        [
            (r"/static/snakeviz\.js", Script),
            (r"/static/(.*)", tornado.web.StaticFileHandler, {"path": static}),
            (r"/snakeviz/(.*)", Viz),
        ],
        template_path=main.settings["template_path"],
        gzip=True,
    )
    app.listen(port, address=host)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":  # pragma: no cover
    _serve(sys.argv[1], int(sys.argv[2]))
