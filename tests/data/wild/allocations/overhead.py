"""The tracemalloc hook's overhead: requests/s and mean latency of leak_app.py (no leak, the
warm-up cache on) under Gunicorn (2 sync workers, 2 client threads, 127.0.0.1), without the
hook and with it, in paired runs whose order alternates; medians over the pairs. Re-runnable:

    nice -n 10 .venv/bin/python tests/data/wild/allocations/overhead.py [--pairs 5]
        [--requests 2000]

Prints one JSON line per configuration.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import record

CONFIGS = {  # name -> record() options
    "hook defaults (every 100 requests, 1 frame, start loaded)": {"every": 100, "frames": 1},
    "4 frames": {"every": 100, "frames": 4},
    "every 10 requests": {"every": 10, "frames": 1},
    "start at fork (imports traced)": {"every": 100, "frames": 1, "start": "fork"},
    "one worker of two traced": {"every": 100, "frames": 1,
                                 "env": {"PERFKIT_TRACEMALLOC_WORKERS": "1"}},
}


def measure(requests: int, **options: object) -> tuple[float, float]:
    """(requests per second, mean latency in ms) of one run, from the client's log."""
    with tempfile.TemporaryDirectory() as folder:
        log = record(Path(folder), requests=requests, **options)  # type: ignore[arg-type]
    answers = log["answers"]
    span = max(a[3] for a in answers) - min(a[2] for a in answers)
    return len(answers) / span, 1000 * statistics.fmean(a[3] - a[2] for a in answers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--only", help="run the configurations whose name contains this")
    a = parser.parse_args()
    for name, options in CONFIGS.items():
        if a.only and a.only not in name:
            continue
        rows = []
        for i in range(a.pairs):
            runs = [{"hook": False}, {"hook": True, **options}]
            if i % 2:
                runs.reverse()
            results = {bool(o["hook"]): measure(a.requests, **o) for o in runs}
            rows.append((results[False], results[True]))
        off_rps = statistics.median(r[0][0] for r in rows)
        on_rps = statistics.median(r[1][0] for r in rows)
        off_ms = statistics.median(r[0][1] for r in rows)
        on_ms = statistics.median(r[1][1] for r in rows)
        ratio = statistics.median(r[1][0] / r[0][0] for r in rows)
        print(json.dumps({"config": name, "pairs": a.pairs, "requests": a.requests,
                          "rps_without": round(off_rps, 1), "rps_with": round(on_rps, 1),
                          "rps_ratio_median": round(ratio, 3),
                          "mean_ms_without": round(off_ms, 2), "mean_ms_with": round(on_ms, 2)}),
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
