"""Benchmark: merging many per-request cProfile dumps, perfkit against plain pstats.

Records `count` real dumps with Werkzeug's ProfilerMiddleware around the
test warehouse app (tests/apps/warehouse_views.py), then times
``pstats.Stats(*files)`` (load and add every dump) and
``perfkit.read_profile(files)`` (load, merge into the functions and edges
frames, and keep the per-dump numbers). Goal: perfkit within 1.2x of pstats.
"""

from __future__ import annotations

import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def record(folder: Path, count: int) -> list[Path]:
    """`count` per-request dumps of the warehouse test app."""
    sys.path.insert(0, str(ROOT))
    from werkzeug.middleware.profiler import ProfilerMiddleware

    from tests.apps.warehouse_views import create_app

    app = create_app()
    app.wsgi_app = ProfilerMiddleware(
        app.wsgi_app,
        stream=None,
        profile_dir=str(folder),
        filename_format="{method}.{path}.{elapsed:.0f}ms.{time:.6f}.prof",
    )
    client = app.test_client()
    for i in range(count):
        client.get(f"/orders/{i % 50}")
    return sorted(folder.glob("*.prof"))


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(count: int = 1000, repeat: int = 3) -> dict[str, float]:
    """Print and return the figures."""
    import perfkit

    with tempfile.TemporaryDirectory() as tmp:
        files = record(Path(tmp), count)
        names = [str(f) for f in files]
        t_pstats = best(lambda: pstats.Stats(*names), repeat)
        t_perfkit = best(lambda: perfkit.read_profile(files), repeat)
    ratio = t_perfkit / t_pstats
    print(f"profile dumps           : {len(files):,} per-request dumps (ProfilerMiddleware)")
    print(f"pstats.Stats(*files)    : {t_pstats:.2f} s (best of {repeat})")
    print(f"perfkit.read_profile    : {t_perfkit:.2f} s (best of {repeat})")
    print(f"ratio perfkit/pstats    : {ratio:.2f}x time (goal <= 1.2x)")
    return {"pstats_s": t_pstats, "perfkit_s": t_perfkit, "ratio": ratio}
