"""Logs recorded from real nginx 1.22 and Apache 2.4 (tests/data/record_servers.py).

`servers_expected.json` holds what was sent; every parsed field is checked
against it, and the durations against the raw text of each line.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from perfkit import read_access_log
from tests.conftest import DATA

MANIFEST = json.loads((DATA / "servers_expected.json").read_text(encoding="utf-8"))
FORMATS = MANIFEST["formats"]
LOGS = {
    "nginx_combined.log": ("nginx", "nginx"),
    "nginx_timed.log": ("nginx", FORMATS["nginx_timed.log"]),
    "nginx_iso.log": ("nginx", FORMATS["nginx_iso.log"]),
    "apache_combined_D.log": ("apache", FORMATS["apache_combined_D.log"]),
    "apache_common.log": ("apache", "common"),
}


@pytest.mark.parametrize("name", sorted(LOGS))
def test_recorded_log_matches_what_was_sent(name):
    server, fmt = LOGS[name]
    sent = MANIFEST["requests"][server]
    df = read_access_log(DATA / name, format=fmt, on_bad_lines="error")
    assert len(df) == len(sent)
    assert df["method"].astype(str).tolist() == [r["method"] for r in sent]
    assert df["status"].tolist() == [r["status"] for r in sent]
    targets = [r["target"].split("?", 1) for r in sent]
    assert df["path"].tolist() == [t[0] for t in targets]
    for got, target in zip(df["query"], targets, strict=True):
        expected = (
            target[1].replace("api_key=SEKRET", "api_key=REDACTED") if len(target) > 1 else None
        )
        assert (pd.isna(got) and expected is None) or got == expected
    assert df["client"].eq("127.0.0.1").all()
    if "user_agent" in df and df["user_agent"].notna().any():
        agents = [r["headers"].get("User-Agent", "Python-urllib/3.11") for r in sent]
        assert df["user_agent"].tolist() == agents  # \x22, \", \\ and \xC3\xA9 undone
        referrer = df["referrer"].iloc[4]
        assert referrer == "https://wh.example.com/a?token=REDACTED"


def test_nginx_durations_and_upstream_lists_match_the_raw_text():
    raw = (DATA / "nginx_timed.log").read_text().splitlines()
    df = read_access_log(DATA / "nginx_timed.log", format=FORMATS["nginx_timed.log"])
    for line, (_, row) in zip(raw, df.iterrows(), strict=True):
        rt = float(re.search(r" rt=([\d.]+)", line)[1])
        assert row["duration_ms"] == pytest.approx(rt * 1000)
        urt = re.search(r'urt="([^"]*)"', line)[1]
        times = [float(t) for t in re.split(r", | : ", urt) if t != "-"]
        assert (pd.isna(row["upstream_ms"]) and not times) or row["upstream_ms"] == pytest.approx(
            sum(times) * 1000
        )
    # the proxied 120 ms sleep took at least that long, at nginx and at the upstream
    slow = df[df["path"] == "/app/sleep"].iloc[0]
    assert slow["duration_ms"] >= 120 and slow["upstream_ms"] >= 120
    # the upstream pair: the first server refused, the second answered -> two times, summed
    pair = df.index[df["path"] == "/pair/sleep"][0]
    assert re.search(r'urt="[\d.]+, [\d.]+"', raw[pair])
    assert df.loc[pair, "upstream_ms"] >= 30


def test_apache_microseconds():
    df = read_access_log(DATA / "apache_combined_D.log", format=FORMATS["apache_combined_D.log"])
    raw = [
        int(line.rsplit(" ", 1)[1])
        for line in (DATA / "apache_combined_D.log").read_text().splitlines()
    ]
    assert df["duration_ms"].tolist() == pytest.approx([us / 1000 for us in raw])
    assert df.loc[df["path"] == "/app/sleep", "duration_ms"].iloc[0] >= 120
    assert pd.isna(df.loc[df["method"] == "HEAD", "bytes"].iloc[0])  # Apache's %b writes '-' for 0


def test_auto_detection_on_recorded_logs():
    assert read_access_log(DATA / "nginx_combined.log").attrs["perfkit"]["format"] == "combined"
    assert (
        read_access_log(DATA / "apache_combined_D.log").attrs["perfkit"]["format"] == "combined_us"
    )
    assert read_access_log(DATA / "apache_common.log").attrs["perfkit"]["format"] == "common"
