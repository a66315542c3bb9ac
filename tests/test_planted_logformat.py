"""Planted-bug tests for the access-log reader (issue 16): UTC offsets on the fast path (Arrow's
tokenizer splits a CLF time at its space) and on the exact path give the same, true instant."""

from __future__ import annotations

import pandas as pd
import pytest

from perfkit import read_access_log
from perfkit.io import access_log

LINE = '10.0.0.1 - - [{t}] "GET /a HTTP/1.1" 200 10 "-" "ua" 1500\n'
# local time written with its offset -> the instant in UTC (planted truth)
TIMES = {
    "10/Oct/2024:13:55:36 +0200": "2024-10-10 11:55:36",
    "10/Oct/2024:13:55:36 -0530": "2024-10-10 19:25:36",
    "31/Dec/2024:23:30:00 -0100": "2025-01-01 00:30:00",
    "01/Jan/2025:00:15:00 +1345": "2024-12-31 10:30:00",
    "10/Oct/2024:13:55:36 +0000": "2024-10-10 13:55:36",
}


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "exact"])
def test_clf_offsets_give_the_utc_instant(tmp_path, monkeypatch, fast):
    path = tmp_path / "access.log"
    path.write_text("".join(LINE.format(t=t) for t in TIMES))
    tokenized = []
    real = access_log.tokenize

    def spy(*args, **kwargs):
        out = real(*args, **kwargs) if fast else None
        tokenized.append(out is not None)
        return out

    monkeypatch.setattr(access_log, "tokenize", spy)
    frame = read_access_log(path, format="combined_us")
    assert tokenized and all(tokenized) == fast  # the path under test was the one taken
    expected = pd.to_datetime(list(TIMES.values())).tz_localize("UTC")
    assert list(frame["time"]) == list(expected)
    assert frame["duration_ms"].tolist() == [1.5] * len(TIMES)
