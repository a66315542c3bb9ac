"""Benchmark: `fit_capacity` (fit with rolling-origin model choice) plus a 20-load prediction.

Two step loads: 8 steps (1..64 users, a Locust step load's size) and 100 steps (1..100, an
access log cut into intervals), each a planted closed network (2 servers, 74 ms demand) with
2 % noise, fitted with and without think time (with Z > 0 every server count is tried by
exact MVA, the slow path) and with the server count known or fitted. Prints median wall
times. Goal: 8 steps under 1 s, 100 steps under 10 s on this 2-core machine.

Usage: python -m benchmarks.capacity [--repeat K]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(repeat: int = 5) -> dict[str, float]:
    """Median seconds of fit + prediction per case, keyed ``steps/think/servers``."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from perfkit.analysis.capacity import fit_capacity, mva
    from perfkit.errors import PerfkitWarning

    rng = np.random.default_rng(0)
    cases = {8: np.array([1, 2, 4, 8, 16, 32, 48, 64]), 100: np.arange(1, 101)}
    out = {}
    for size, steps in cases.items():
        for think in (0.0, 0.5):
            x, _ = mva(int(steps.max()), 0.074, 2, think)
            noisy = x[steps - 1] * rng.normal(1, 0.02, len(steps))
            for servers in (2, None):
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    fit = fit_capacity(steps, noisy, think_time_s=think, servers=servers)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", PerfkitWarning)
                        fit.table(np.linspace(1, 4 * steps.max(), 20))
                    times.append(time.perf_counter() - t0)
                key = f"{size} steps, Z={think:g}, servers {'given' if servers else 'fitted'}"
                out[key] = statistics.median(times)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    for key, seconds in run(args.repeat).items():
        print(f"fit_capacity + prediction, {key}: {seconds * 1000:,.0f} ms (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
