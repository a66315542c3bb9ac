"""A real leak run (Gunicorn, 2 workers, max_requests 150, a planted 64 KiB per request, RSS from
`perfkit collect rss`; tests/data/wild/loadmem/README.md) and the container against its own limit."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from perfkit.analysis.leak import fit_leak, recycled_workers, workers_at_once
from perfkit.report.memory import memory_report

WILD = Path(__file__).parent / "data" / "wild" / "loadmem"
LEAK = WILD / "leak"
MIB = 2**20
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ([+-]\d{4})\] \[\d+\] \[INFO\] (.*)$")


def planted_kib() -> int:
    """The leak per request, read from the app's source (not imported: no Flask app needed)."""
    return int(re.search(r"^LEAK_KIB = (\d+)$", (WILD / "shelf_app.py").read_text(), re.M)[1])


def restarts(until: pd.Timestamp | None = None) -> tuple[int, int]:
    """Worker restarts in Gunicorn's error log (up to `until`): (boots - the first workers,
    "Autorestarting" lines)."""
    boots = autorestarts = 0
    for line in (LEAK / "error.log").read_text().splitlines():
        match = STAMP.match(line)
        if not match or (until is not None and pd.Timestamp(f"{match[1]}{match[2]}") > until):
            continue
        boots += match[3].startswith("Booting worker with pid")
        autorestarts += match[3].startswith("Autorestarting worker after current request")
    return boots - 2, autorestarts  # gunicorn -w 2


def memory() -> pd.DataFrame:
    import perfkit

    return perfkit.read_memory(LEAK / "memory.csv")


def test_recycled_workers_equal_the_error_log_restarts():
    boots, autorestarts = restarts()
    assert boots == autorestarts == 11
    report = memory_report(LEAK, limit_mib=512, container_limit_mib=2048)
    assert report.summary()["recycled_workers"] == boots


def test_a_restart_just_before_the_sampling_stopped_is_counted(tmp_path):
    """The cause of 10 for 11: a worker that ended less than 5 s before the last sample was
    taken for alive. The collector stopped 2 s after the last restart here."""
    frame = memory()
    workers = frame[frame["role"] == "worker"]
    born = workers.groupby("pid")["time"].min().sort_values()
    cut = born.iloc[-1] + pd.Timedelta(seconds=2)  # the last generation's first 2 s
    short = frame[frame["time"] <= cut]
    before = short["time"].max() - pd.Timedelta(seconds=5)
    ended_late = (short[short["role"] == "worker"].groupby("pid")["time"].max()
                  .between(before, short["time"].max(), inclusive="neither"))  # fmt: skip
    assert ended_late.sum() >= 1  # the old 5 s rule would miss these
    boots, autorestarts = restarts(until=cut)
    assert boots == autorestarts
    assert recycled_workers(short) == boots
    # and a worker alive at the end is never counted, whatever its age
    assert recycled_workers(frame[frame["time"] <= born.iloc[0] + pd.Timedelta(seconds=5)]) == 0


def test_growth_per_request_is_the_planted_leak():
    report = memory_report(LEAK, limit_mib=512, container_limit_mib=2048)
    pooled = report.summary()["processes"]["workers (pooled)"]
    assert pooled["verdict"] == "leak"
    # 64 KiB per request; the access log's span includes a 2 s start-up probe (+3 %)
    assert pooled["growth_per_request_kib"] == pytest.approx(planted_kib(), rel=0.08)
    # 2 workers ran at once; counting per 10 s bucket saw 4 (a worker and its successor)
    assert workers_at_once(memory()[memory()["role"] == "worker"]) == 2
    # max_requests that keeps a worker under 512 MiB: (512 - start) / 64 KiB, conservative
    start = memory().query("role == 'worker'").groupby("pid")["rss_bytes"].min().median() / MIB
    bound = (512 - start) * 1024 / planted_kib()
    assert 0.9 * bound <= pooled["max_requests_for_limit"] <= bound


def test_container_is_held_to_its_own_limit_and_has_no_per_request_figures():
    report = memory_report(LEAK, limit_mib=40, container_limit_mib=2048)
    fits = report.fits.set_index("role")
    box = fits.loc["container"]
    assert box["limit_mib"] == 2048 and (fits.drop(index="container")["limit_mib"] == 40).all()
    assert box["time_to_limit_h"] == pytest.approx(
        (2048 - box["level_mib"]) / box["slope_mib_per_hour"]
    )
    assert box["time_to_limit_h"] == box["container_time_to_limit_h"]
    assert pd.isna(box["growth_per_request_kib"]) and pd.isna(box["max_requests_for_limit"])
    frame = memory()
    top = frame.groupby("role")["rss_bytes"].max() / MIB  # master + 2 workers at the largest
    assert box["worst_case_mib"] == pytest.approx(top["master"] + 2 * top["worker"])
    summary = report.summary()
    assert summary["container"]["time_to_limit_h"] == box["time_to_limit_h"]
    assert summary["processes"]["container"]["time_to_limit_h"] == box["time_to_limit_h"]
    text = report.verdict().data
    assert f"reaches 2048 MiB in {box['time_to_limit_h']:,.3g} h" in text


def series(pid, role, base_mib, slope_mib_h, hours=6.0, every_s=60):
    times = pd.date_range("2026-01-01", periods=int(hours * 3600 / every_s), freq=f"{every_s}s",
                          tz="UTC")  # fmt: skip
    h = (times - times[0]).total_seconds() / 3600
    wiggle = ((pd.Series(range(len(times))) * 7919) % 11 - 5).to_numpy() * 0.05  # +-0.25 MiB
    return pd.DataFrame({"time": times, "pid": pid, "role": role,
                         "rss_bytes": (base_mib + slope_mib_h * h + wiggle) * MIB})  # fmt: skip


def test_planted_container_time_to_limit_and_a_worker_already_over(tmp_path):
    """4 workers at 300 MiB growing 5 MiB/h, a 40 MiB master: the container reaches 2048 MiB
    in (2048 - 1,360 - 4 x 5 x 6 ... ) / 20; a per-worker limit of 300 MiB is already passed."""
    frame = pd.concat([series(1, "master", 40, 0.0)]
                      + [series(10 + w, "worker", 300, 5.0) for w in range(4)])  # fmt: skip
    fits = fit_leak(frame, limit_bytes=300 * MIB, container_limit_bytes=2048 * MIB)
    box = fits.set_index("role").loc["container"]
    end_total = 40 + 4 * (300 + 5 * 6)  # MiB at the last sample, by construction
    assert box["time_to_limit_h"] == pytest.approx((2048 - end_total) / 20.0, rel=0.02)
    workers = fits[fits["role"] == "worker"]
    assert (workers["time_to_limit_h"] == 0).all()  # over the limit: 0 h, never negative
    run = tmp_path / "run"
    run.mkdir()
    frame.assign(ppid=1, uss_bytes=0, name="gunicorn").to_csv(run / "memory.csv", index=False)
    report = memory_report(run, limit_mib=300, container_limit_mib=2048)
    assert "is already at or above its 300 MiB limit" in report.verdict().data
    assert f"2048 MiB in {(2048 - end_total) / 20:.3g} h" in report.verdict().data
    shutil.rmtree(run)


def test_report_on_the_real_leak_run_agrees_with_its_json(tmp_path):
    """Rendered as the CLI renders it, with a per-worker limit the workers reach (40 MiB): no
    negative hours anywhere, and the text, the table and --json give the same figures."""
    import json

    from perfkit.report.run import run_report
    from tests.test_report_json_agrees import Page, cell_shows, figures, hours, shown

    html, saved = tmp_path / "m.html", tmp_path / "m.json"
    run_report("memory_leak", {"run": str(LEAK), "limit_mib": 40, "container_limit_mib": 2048},
               html, saved)  # fmt: skip
    page, summary = Page(html.read_text()), json.loads(saved.read_text())
    assert summary["recycled_workers"] == restarts()[0]
    ttl = {n: p["time_to_limit_h"] for n, p in summary["processes"].items()}
    assert all(v is None or v >= 0 for v in ttl.values()), ttl
    assert 0 in ttl.values()  # some worker generations ended at or over 40 MiB
    missing = [(k, v) for k, v in figures(summary) if not shown(v, page.text)]
    assert not missing, missing
    (fits,) = [t for t in page.tables if t and "time_to_limit_h" in t[0]]
    for row in fits:
        name = f"{row['role']} {row['pid']}" if row["pid"] else row["role"]
        value = summary["processes"][name]["time_to_limit_h"]
        assert cell_shows(row["time_to_limit_h"], value), (name, row["time_to_limit_h"])
    for name in summary["leaks"]:
        value = ttl[name]
        phrase = ("is already at or above its 40 MiB limit" if value == 0
                  else f"reaches 40 MiB in {hours(value)} h")  # fmt: skip
        assert f"{name}: " in page.text and phrase in page.text.split(f"{name}: ")[1][:200], name
