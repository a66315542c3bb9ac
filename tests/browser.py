"""Open pages in a real headless Chromium with the network blocked; return the DOM and console.

Debian's ``chromium`` (installed by ``make test`` when missing). As root it
needs ``--no-sandbox``; a fresh profile folder per run; every host name
resolves to nothing and every request goes to a dead proxy, so a page that
needs the network shows it (``allow_local`` lets 127.0.0.1 through, for a
local server such as JupyterLab).

`open_page` drives Chromium over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: JSON messages ending in NUL on file
descriptors 3 and 4, no extra package). It runs the page on virtual time as
``--virtual-time-budget`` did and returns the DOM with the console messages
(``console.*`` calls, uncaught exceptions, Chromium's own log entries) as
structured events. (The former reading of Chromium's stderr looked for
``CONSOLE(1)]`` while Chromium 156 writes ``CONSOLE:1]``: it found no message
at all, so the console checks built on it could not fail.) `Browser` and
`Tab` drive live pages (JupyterLab);
`undrawn` lists the plotly figures on a page that drew nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# true once every plotly figure div on the page has been plotted (plotly adds js-plotly-plot)
PLOTTED = (
    "document.readyState === 'complete' && "
    "document.querySelectorAll('div.plotly-graph-div:not(.js-plotly-plot)').length === 0"
)


@dataclass
class Page:
    dom: str
    console: list[str]
    log: str = ""

    def count(self, needle: str) -> int:
        return self.dom.count(needle)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium is not installed: `make test` installs Debian's chromium")


class DevToolsError(RuntimeError):
    """Chromium answered a DevTools command with an error, or not in time."""


class Browser:
    """One headless Chromium; `open` gives a `Tab`. Use as a context manager (always closed)."""

    def __init__(self, allow_local: bool = False, width: int = 1280, height: int = 1024) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="perfkit-chromium-")
        to_chrome, self._write = os.pipe()
        self._read, from_chrome = os.pipe()
        # Chromium's ends above 9, so that moving them to 3 and 4 cannot overwrite each other
        to_chrome, from_chrome = (_high(fd) for fd in (to_chrome, from_chrome))
        rules = "MAP * ~NOTFOUND" + (", EXCLUDE 127.0.0.1" if allow_local else "")
        args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--disable-dev-shm-usage", f"--user-data-dir={self._profile.name}",
                f"--host-resolver-rules={rules}", "--proxy-server=http://127.0.0.1:9",
                f"--window-size={width},{height}", "--remote-debugging-pipe", "about:blank"]  # fmt: skip

        def ends_on_3_and_4() -> None:  # in the child, before exec
            os.dup2(to_chrome, 3)
            os.dup2(from_chrome, 4)

        self.proc = subprocess.Popen(
            args, pass_fds=(3, 4, to_chrome, from_chrome), preexec_fn=ends_on_3_and_4,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_chrome)
        os.close(from_chrome)
        self._next = 0
        self._lock = threading.Lock()
        self._replies: dict[int, queue.Queue] = {}
        self.events: dict[str, list[dict]] = {}  # by session id ("" for the browser)
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._read, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                for waiting in list(self._replies.values()):
                    waiting.put({"error": {"message": "Chromium closed the pipe"}})
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    waiting = self._replies.get(message["id"])
                    if waiting is not None:
                        waiting.put(message)
                else:
                    with self._lock:
                        self.events.setdefault(message.get("sessionId", ""), []).append(message)

    def call(self, method: str, session: str = "", timeout: float = 30, **params: Any) -> dict:
        """Send one DevTools command and wait (at most `timeout` seconds) for its result."""
        with self._lock:
            self._next += 1
            ident = self._next
            self._replies[ident] = waiting = queue.Queue()
        message = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        try:
            reply = waiting.get(timeout=timeout)
        except queue.Empty:
            raise DevToolsError(f"{method}: no answer from Chromium in {timeout} s") from None
        finally:
            self._replies.pop(ident, None)
        if "error" in reply:
            raise DevToolsError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def open(self, url: str) -> Tab:
        """A new tab showing `url`, with its console recorded from the start."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable", session)
        tab = Tab(self, session, target)
        self.call("Page.navigate", session, url=url)
        return tab

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.call("Browser.close", timeout=5)
                self.proc.wait(timeout=10)
        except (DevToolsError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self._reader.join(timeout=5)  # Chromium gone: the pipe is at its end
            for fd in (self._write, self._read):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Tab:
    """A page in a `Browser`: evaluate JavaScript, wait for a condition, read the console."""

    def __init__(self, browser: Browser, session: str, target: str = "") -> None:
        self.browser, self.session, self.target = browser, session, target

    def evaluate(self, expression: str, timeout: float = 30) -> Any:
        """The value of a JavaScript expression (promises awaited), as JSON data."""
        result = self.browser.call("Runtime.evaluate", self.session, timeout=timeout,
                                   expression=expression, returnByValue=True,
                                   awaitPromise=True)  # fmt: skip
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text")
            raise DevToolsError(f"{expression[:80]}: {thrown}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 30, poll: float = 0.25) -> bool:
        """Whether `expression` became true within `timeout` seconds (polled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.evaluate(expression):
                    return True
            except DevToolsError:
                pass  # the page is navigating
            time.sleep(poll)
        return False

    def wait_event(self, method: str, timeout: float = 30) -> bool:
        """Whether the page sent event `method` within `timeout` seconds (or before)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.browser._lock:
                if any(e["method"] == method for e in self.browser.events.get(self.session, ())):
                    return True
            time.sleep(0.1)
        return False

    def dom(self) -> str:
        return self.evaluate("document.documentElement.outerHTML")

    @property
    def console(self) -> list[str]:
        """Console messages so far, as ``"<type>: <text>"``."""
        with self.browser._lock:
            events = list(self.browser.events.get(self.session, ()))
        out = []
        for event in events:
            params = event["params"]
            if event["method"] == "Runtime.consoleAPICalled":
                text = " ".join(_text(arg) for arg in params.get("args", ()))
                out.append(f"{params['type']}: {text}")
            elif event["method"] == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                thrown = details.get("exception", {}).get("description") or details.get("text")
                out.append(f"exception: {thrown}")
            elif event["method"] == "Log.entryAdded":
                entry = params["entry"]
                out.append(f"{entry['level']}: {entry['text']}")
        return out


def _high(fd: int) -> int:
    """A duplicate of `fd` numbered 10 or more (the original closed)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


def _text(arg: dict) -> str:
    return str(arg["value"]) if "value" in arg else str(arg.get("description", arg.get("type")))


# per figure div: the traces plotly kept visible, each with the marks it drew on the SVG
FIGURES_JS = r"""
(() => {
  const real = el => Array.from(el.querySelectorAll('path, image')).filter(p => {
    if (p.tagName === 'image') return !!(p.getAttribute('href') || p.getAttribute('xlink:href'));
    const d = p.getAttribute('d') || '';
    return d.length > 5 && !d.includes('NaN');
  }).length;
  return Array.from(document.querySelectorAll(SELECTOR)).map((gd, i) => ({
    id: gd.id || `figure ${i}`,
    plotted: gd.classList.contains('js-plotly-plot'),
    slices: gd.querySelectorAll('g.slice').length,
    painted: Array.from(gd.querySelectorAll('g.slice path.surface')).filter(p => {
      const box = p.getBBox(); return box.width * box.height > 0; }).length,
    traces: (gd.calcdata || []).map(cd => {
      const trace = cd[0].trace, node = cd[0].node3 && cd[0].node3.node && cd[0].node3.node();
      const hierarchy = ['icicle', 'sunburst', 'treemap', 'pie', 'funnelarea'];
      const marks = node ? real(node) : hierarchy.includes(trace.type)
        ? gd.querySelectorAll('g.slice path.surface').length : real(gd.querySelector('.plot') || gd);
      return {type: trace.type, name: trace.name || '', visible: trace.visible === true, marks};
    }),
  }));
})()
"""
QUIET = ("log", "info", "debug", "verbose")  # console levels that are not trouble


def figures(tab: Tab, selector: str = "div.plotly-graph-div") -> list[dict]:
    """Each plotly figure on the page: ``id``, ``plotted``, icicle ``slices`` (all) and
    ``painted`` (with an area), ``traces`` (type, name, visible, marks drawn on the SVG)."""
    return tab.evaluate(FIGURES_JS.replace("SELECTOR", json.dumps(selector)))


def undrawn(
    tab: Tab,
    icicles: dict[str, tuple[int, int]] | None = None,
    selector: str = "div.plotly-graph-div",
) -> list[str]:
    """Every figure on the page that did not draw: not plotted, no visible trace, a visible
    trace without marks, an icicle without one slice per node or with fewer painted than
    it shows (`icicles`: div id -> (nodes, nodes shown)); and every console message above
    log level. Empty when all drew."""
    problems = []
    for figure in figures(tab, selector):
        shown = [t for t in figure["traces"] if t["visible"]]
        if not figure["plotted"] or not shown:
            problems.append(f"{figure['id']}: drew nothing ({len(figure['traces'])} traces)")
        for trace in shown:
            if trace["marks"] == 0:
                problems.append(f"{figure['id']}: {trace['type']} {trace['name']!r} is empty")
        if icicles and figure["id"] in icicles:
            nodes, painted = icicles[figure["id"]]
            if (figure["slices"], figure["painted"]) != (nodes, painted):
                problems.append(f"{figure['id']}: {figure['slices']} slices for {nodes} nodes, "
                                f"{figure['painted']} painted of {painted}")  # fmt: skip
    problems += [m for m in tab.console if m.split(":", 1)[0] not in QUIET]
    return problems


def open_page(path: Path, budget_ms: int = 20000) -> Page:
    """Load `path` (a local file) offline as ``--virtual-time-budget`` does: timers run on
    virtual time until `budget_ms` of it passed (network fetches pause the clock); return the
    DOM and the console. The window is headless Chromium's default, 800 x 600."""
    with Browser(width=800, height=600) as browser:
        tab = browser.open("about:blank")
        tab.wait_event("Page.loadEventFired", timeout=30)
        browser.call("Page.navigate", tab.session, url=path.resolve().as_uri())
        browser.call("Emulation.setVirtualTimePolicy", tab.session,
                     policy="pauseIfNetworkFetchesPending", budget=budget_ms)  # fmt: skip
        expired = tab.wait_event("Emulation.virtualTimeBudgetExpired", timeout=180)
        browser.call("Emulation.setVirtualTimePolicy", tab.session, policy="advance")
        if not expired:
            tab.wait(PLOTTED, timeout=budget_ms / 1000)
        return Page(tab.dom(), tab.console)
