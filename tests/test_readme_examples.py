"""Every code block of README.md runs.

How it works: each ```` ```python ```` block is extracted and executed, in README order, in
one subprocess whose working folder is a temporary workspace holding a copy of ``data/``
and the files the examples name (``logs/access.log.gz``, ``profiles/``, ``spy.json``,
``rss.csv``, ``run_stats.csv``, ``ab.tsv``, ``wrk.txt``, ``outbound.jsonl``, ...), each made
from ``data/`` or from the recordings under ``tests/data/``. Each block starts from a fresh
copy of a prelude namespace (`PRELUDE`) that defines the names the README takes as given
(``requests``, ``app``, ``prof``, ``base_requests`` ...), so a block never depends on what an
earlier one rebound. Placeholders standing for a machine we do not have are replaced
(`SUBSTITUTE`: the live DSN becomes a throw-away PostgreSQL 15, the remote Dask scheduler
the local cluster the block starts).

```` ```bash ```` blocks: every line that starts with ``perfkit`` (continuation lines
joined) is expanded by bash in the workspace and parsed by perfkit's own argument parser;
the cheap ones (``perfkit summary``) also run and must exit 0. Synopsis lines (with
``[...]`` or upper-case placeholders) and ``make ...`` are not run.

Not run: blocks with IPython magics (``%load_ext``: they need a kernel), and any block
preceded by the marker comment ``<!-- no-test -->`` on the line before its opening fence
(for an example that cannot run on a test machine; say why next to the marker).
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NO_TEST = "<!-- no-test -->"
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Block:
    language: str
    line: int  # README line of the opening fence
    code: str
    opted_out: bool


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of `text` (README.md), with their language and line."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        before = lines[start - 1].strip() if start else ""
        found.append(Block(match.group(1), start + 1, "\n".join(body) + "\n", before == NO_TEST))
        i += 1
    return found


def test_extractor_sees_markers_and_languages():
    text = textwrap.dedent("""\
        intro
        ```python
        a = 1
        ```
        <!-- no-test -->
        ```python
        raise SystemExit
        ```
        ```bash
        perfkit summary x.log
        ```
        """)
    found = blocks(text)
    assert [(b.language, b.line, b.opted_out) for b in found] == [
        ("python", 2, False), ("python", 6, True), ("bash", 9, False)]  # fmt: skip
    assert found[0].code == "a = 1\n"


# What the README's names stand for in the workspace (the prelude runs before every block).
PRELUDE = r"""
import glob, os
import flask
import pandas as pd
import perfkit
from perfkit.analysis.pg_deltas import pg_deltas

from perfkit.io.paths import locate  # the kernel runs in notebooks/: paths as the loaders find them

FMT = open(locate("data/baseline/access_log_format.txt")).read().strip()
base_requests = perfkit.read_access_log("data/baseline/access.log.gz", format=FMT)
cand_requests = perfkit.read_access_log("data/candidate/access.log.gz", format=FMT)
CAP = open(locate("data/capacity/access_log_format.txt")).read().strip()
requests = perfkit.read_access_log("data/capacity/access.log.gz", format=CAP)  # a step load
base_frame, cand_frame = base_requests, cand_requests
app = flask.Flask("readme")
for rule in ("/api/orders/<int:order_id>", "/dashboard", "/health"):
    app.add_url_rule(rule, rule, lambda **kw: "")
base_profile = base = prof = perfkit.read_profile("data/baseline/profiles/*")
cand_profile = cand = perfkit.read_profile("data/candidate/profiles/*")
base_outbound = calls = perfkit.read_jsonl("data/baseline/outbound.jsonl.gz")
cand_outbound = perfkit.read_jsonl("data/candidate/outbound.jsonl.gz")
base_deltas = deltas = pg_deltas(perfkit.read_pg_stat("data/baseline/pg", "statements"))
cand_deltas = pg_deltas(perfkit.read_pg_stat("data/candidate/pg", "statements"))
base_stats = perfkit.read_locust("data/baseline/locust", table="stats")
cand_stats = perfkit.read_locust("data/candidate/locust", table="stats")
mem = perfkit.read_memory("data/leak/memory.csv")
# five weeks of days (the capacity run's traffic repeated, growing) for daily_peaks/project_growth
_day = requests.iloc[::10]
month = pd.concat([_day.sample(frac=0.5 + d / 70, random_state=d).assign(
    time=lambda f, d=d: f["time"] + pd.Timedelta(days=d)) for d in range(35)], ignore_index=True)
nightly_p95 = pd.Series([101, 99, 103, 100, 98, 102, 100, 121, 119, 123, 120, 122, 118, 121.0])
"""

RUNNER = r"""
import json, sys, traceback


def main(path=None):
    # from a kernel (`path` given) return the failures, else exit with them
    blocks = json.load(open(path or sys.argv[1]))
    prelude = {"__name__": "__readme__"}
    exec(compile(blocks["prelude"], "prelude", "exec"), prelude)
    failed = []
    for block in blocks["python"]:
        namespace = dict(prelude)
        try:
            exec(compile(block["code"], f"README.md:{block['line']}", "exec"), namespace)
        except BaseException as exc:
            failed.append(f"README.md block at line {block['line']}: {type(exc).__name__}: {exc}")
            traceback.print_exc()
        finally:
            stop = getattr(namespace.get("server"), "stop", None)  # a snakeviz server it started
            if callable(stop):
                stop()
            client = namespace.get("client")  # a Dask client and its local cluster
            if client is not None and hasattr(client, "close"):
                cluster = getattr(client, "cluster", None)
                client.close()
                if cluster is not None:
                    cluster.close()
    print(f"{len(blocks['python'])} blocks, {len(failed)} failed")
    print("\n".join(failed))
    if path is not None:
        return failed
    sys.exit(1 if failed else 0)


if __name__ == "__main__":  # Dask's worker processes import this file again
    main()
"""


def workspace(folder: Path, dsn: str = "") -> Path:
    """A folder with a copy of data/ and every file the README's examples name."""
    shutil.copytree(ROOT / "data", folder / "data")
    data, wild = folder / "data", ROOT / "tests" / "data"
    # logs/: the baseline's lines without the trailing %(p)s pid, so that the format is sniffed
    with gzip.open(data / "baseline" / "access.log.gz", "rt") as source:
        plain = re.sub(r" <\d+>$", "", source.read(), flags=re.M)
    for name in ("logs", "s3-mirror/web1", "s3-mirror/web2"):
        (folder / name).mkdir(parents=True)
        with gzip.open(folder / name / "access.log.gz", "wt") as out:
            out.write(plain)
    # the README's Gunicorn example format, %(h)s %(t)s "%(r)s" %(s)s %(D)s, from baseline lines
    line = re.compile(r'^(\S+) \S+ \S+ (\[[^\]]+\]) "([^"]*)" (\d+) \S+ "[^"]*" "[^"]*" (\d+)')
    with gzip.open(data / "baseline" / "access.log.gz", "rt") as source:
        picked = [line.match(text) for _, text in zip(range(400), source, strict=False)]
    (folder / "gunicorn.log").write_text("".join(
        f'{m[1]} {m[2]} "{m[3]}" {m[4]} {m[5]}\n' for m in picked if m))  # fmt: skip
    shutil.copy(wild / "nginx_combined.log", folder / "nginx.log")
    (folder / "profiles").mkdir()  # werkzeug's names: <method>.<path>.<ms>ms.<time>.prof
    for dump in sorted((data / "baseline" / "profiles").glob("*.prof.xz"))[:200]:
        (folder / "profiles" / dump.name[: -len(".xz")]).write_bytes(
            lzma.decompress(dump.read_bytes())
        )
    for name, target in (("pyspy.json.gz", "spy.json"), ("outbound.jsonl.gz", "outbound.jsonl")):
        with gzip.open(data / "baseline" / name, "rb") as source:
            (folder / target).write_bytes(source.read())
    shutil.copy(data / "leak" / "memory.csv", folder / "rss.csv")
    for part in ("stats", "stats_history", "failures", "exceptions"):
        if (data / "baseline" / f"locust_{part}.csv").exists():
            shutil.copy(data / "baseline" / f"locust_{part}.csv", folder / f"run_{part}.csv")
    shutil.copy(wild / "loadtest" / "ab_gnuplot.tsv", folder / "ab.tsv")
    shutil.copy(wild / "loadtest" / "wrk_latency.txt", folder / "wrk.txt")
    (folder / "gunicorn.pid").write_text(f"{os.getpid()}\n")
    if dsn:  # a store that already holds one snapshot: the README appends the next one
        import perfkit

        perfkit.snapshot_pg(dsn, folder / "pgstats")
    return folder


def substitutions(dsn: str) -> dict[str, str]:
    """README placeholder -> what it stands for here."""
    return {
        '"host=db dbname=wh user=monitor"': json.dumps(dsn),
        'Client("tcp://scheduler.internal:8786")': "Client(client.scheduler.address)",
        # our recordings last minutes, not a day: intervals scaled down
        'concurrency_from_log(requests, "5min")': 'concurrency_from_log(requests, "10s")',
        "perfkit.daily_peaks(requests)": "perfkit.daily_peaks(month)",
    }


def _runnable_python(found: list[Block]) -> list[Block]:
    return [b for b in found if b.language == "python" and not b.opted_out
            and not any(line.lstrip().startswith("%") for line in b.code.splitlines())]  # fmt: skip


def test_readme_python_blocks_run(tmp_path, pg):
    found = blocks(README.read_text(encoding="utf-8"))
    python = _runnable_python(found)
    assert len(python) >= 6, "the README's python examples were not found"
    folder = workspace(tmp_path, pg.dsn())
    replace = substitutions(pg.dsn())
    payload = {"prelude": PRELUDE, "python": []}
    for block in python:
        code = block.code
        for old, new in replace.items():
            code = code.replace(old, new)
        payload["python"].append({"line": block.line, "code": code})
    (folder / "blocks.json").write_text(json.dumps(payload))
    (folder / "runner.py").write_text(RUNNER)
    (folder / "notebooks").mkdir()  # data/ + notebooks/: the folder is a project root
    output = run_in_kernel(folder / "notebooks", f"""
import sys
sys.path.insert(0, {str(folder)!r})
import runner
failed = runner.main({str(folder / "blocks.json")!r})
print("FAILED BLOCKS:", len(failed))
""")  # fmt: skip
    assert f"{len(python)} blocks, 0 failed" in output and "FAILED BLOCKS: 0" in output, output[-4000:]


def run_in_kernel(cwd: Path, code: str, timeout: float = 300) -> str:
    """`code` run in a real Jupyter kernel (the venv's ipykernel) started in `cwd`, as a
    notebook in notebooks/ runs; its streams and any error, as text."""
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg"}
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(cwd), env=env)
    parts: list[str] = []

    def keep(message: dict) -> None:
        content = message["content"]
        if message["msg_type"] == "stream":
            parts.append(content["text"])
        elif message["msg_type"] == "error":
            parts.append("\n".join(content["traceback"]))

    try:
        client.execute_interactive(code, timeout=timeout, output_hook=keep)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return "".join(parts)


def _commands(block: Block) -> list[str]:
    """The `perfkit ...` command lines of a shell block (continuations joined, comments cut)."""
    joined = block.code.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        text = line.strip()
        if not text.startswith("perfkit "):
            continue
        text = re.sub(r"\s+#.*$", "", text)
        found.append(text)
    return found


def _synopsis(command: str) -> bool:
    """A usage line (``perfkit report NAME [-p KEY=VALUE ...]``), not a command to run."""
    return "[" in command or re.search(r"\b[A-Z]{2,}\b", command) is not None


def test_readme_shell_commands_parse_and_cheap_ones_run(tmp_path):
    from perfkit.cli import _parser

    found = blocks(README.read_text(encoding="utf-8"))
    shell = [b for b in found if b.language in ("bash", "sh", "shell") and not b.opted_out]
    commands = [c for b in shell for c in _commands(b) if not _synopsis(c)]
    assert any(c.startswith("perfkit summary") for c in commands)
    folder = workspace(tmp_path)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    parser = _parser()
    for command in commands:
        words = subprocess.run(["bash", "-c", f"printf '%s\\0' {command[len('perfkit '):]}"],
                               cwd=folder, capture_output=True, text=True, check=True,
                               env=env).stdout.split("\0")[:-1]  # fmt: skip
        if words == ["--version"]:  # argparse prints it and exits 0: run it instead
            run = subprocess.run(["bash", "-c", command], cwd=folder, env=env,
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
            assert run.returncode == 0 and run.stdout.startswith("perfkit "), run.stderr
            continue
        parser.parse_args(words)  # argparse exits (SystemExit) on anything it does not accept
        if words[0] == "summary":
            run = subprocess.run(["bash", "-c", command], cwd=folder, env=env,
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
            assert run.returncode == 0, (command, run.stderr[-3000:])
            assert "/health" in run.stdout, (command, run.stdout[:500])
