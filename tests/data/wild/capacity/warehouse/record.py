"""Re-record the warehouse step loads (about 7 minutes): python tests/data/wild/capacity/warehouse/record.py

`examples/warehouse` (Flask + SQLAlchemy on a throw-away PostgreSQL 15, stub APIs) under real
Gunicorn with 2 sync workers, 4 sync workers and gthread 2 x 4, each driven by the recorder's
Locust step load (1, 2, 4, 8, 16, 32, 64 users, 15 s per step, no wait). Only what the tests
read is kept per folder: Locust's stats and history, the access log and the manifest.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[4]
sys.path.insert(0, str(ROOT))

from examples.warehouse.record import PLANS, record  # noqa: E402

SERVERS = {
    "sync2": ("-k", "sync", "--workers", "2"),
    "sync4": ("-k", "sync", "--workers", "4"),
    "gthread": ("-k", "gthread", "--workers", "2", "--threads", "4"),
}
KEEP = ("locust_stats.csv", "locust_stats_history.csv", "access.log.gz", "manifest.json")


def main(names: list[str]) -> None:
    for name in names or list(SERVERS):
        plan = replace(PLANS["capacity"], name=f"capacity_{name}", server=SERVERS[name],
                       truth=f"step load, {' '.join(SERVERS[name])}")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            manifest = record(plan, Path(tmp) / name)
            target = HERE / name
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            for file in KEEP:
                shutil.copy(Path(tmp) / name / file, target / file)
        print(name, manifest["measured"], flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
