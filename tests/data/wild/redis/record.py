"""Record a small Redis snapshot store (re-runnable): `python tests/data/wild/redis/record.py`.

A throw-away redis-server (perfkit/sandbox/redis.py) on 127.0.0.1 and a free port, loaded
with redis-benchmark (known -n per command), with a CONFIG RESETSTAT and a restart between
snapshots. Before each perfkit snapshot the script reads INFO itself (its own client, not
perfkit's) and writes what it read to truth.json; the store is written by
`perfkit.snapshot_redis`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[3]))

from perfkit.io.redis import snapshot_redis  # noqa: E402
from perfkit.sandbox.redis import Server  # noqa: E402

STEPS = [
    ("start", []),
    ("benchmark set,get,incr,lpush -n 5000", ["-t", "set,get,incr,lpush", "-n", "5000",
                                              "-r", "1000"]),
    ("CONFIG RESETSTAT, then benchmark get -n 3000", ["-t", "get", "-n", "3000", "-r", "1000"]),
    ("restart, then benchmark set,get -n 2000", ["-t", "set,get", "-n", "2000", "-r", "500"]),
]  # fmt: skip


def main() -> None:
    store = HERE / "store"
    shutil.rmtree(store, ignore_errors=True)
    server = Server()
    truth = {"redis_server": subprocess.run(["redis-server", "--version"], capture_output=True,
                                            text=True).stdout.strip(), "snapshots": []}  # fmt: skip
    try:
        for step, args in STEPS:
            if step.startswith("CONFIG RESETSTAT"):
                server.command("CONFIG", "RESETSTAT")
            if step.startswith("restart"):
                server.restart()
            if args:
                server.benchmark(*args)
            calls = {k: v["calls"] for k, v in server.commandstats().items()}
            stats = {f: int(server.stat(f)) for f in ("keyspace_hits", "keyspace_misses")}
            truth["snapshots"].append({"step": step, "calls_before_snapshot": calls, **stats,
                                       "run_id": server.stat("run_id")})  # fmt: skip
            snapshot_redis(server.url, store)
    finally:
        server.close()
    (HERE / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")


if __name__ == "__main__":
    main()
