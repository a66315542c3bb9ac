"""Issue 18: whole-process time counts for the CLI and papermill, so reading an access log
and summarizing it must import only what that needs (pandas, numpy, pyarrow), never the
statistics, plotting, notebook or database stacks. Checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("scipy", "plotly", "matplotlib", "dask", "distributed", "tqdm", "psycopg", "jinja2",
         "IPython", "nbformat", "papermill", "sklearn", "statsmodels", "numba")  # fmt: skip
LINE = (
    '10.0.0.{i} - - [10/Oct/2024:13:55:{s:02d} +0100] "GET /a/{i} HTTP/1.1" 200 5 "-" "ua" 1500\n'
)


def test_reading_a_log_imports_nothing_heavy(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text("".join(LINE.format(i=i, s=i % 60) for i in range(1, 200)))
    code = (
        "import json, sys, perfkit\n"
        f"df = perfkit.read_access_log(sys.argv[1], format='gunicorn_timed')\n"
        "table = perfkit.summarize(df)\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps([len(df), sorted({m.split('.')[0] for m in sys.modules} & set(heavy))]))"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert rows == 199  # the log was read
    assert loaded == []
