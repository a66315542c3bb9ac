"""Real Gunicorn logs (27.0.1 and 20.1.0) whose Referer and User-Agent hold quotes,
backslashes, non-ASCII text and empty values, read by both paths.

Recorded by tests/data/wild/formats/gunicorn/escapes/record.py (see formats/README.md): a
small Flask app under real Gunicorn, perfkit's `gunicorn_timed` format and Gunicorn's default,
40 requests sent with http.client. The truth is requests.json: what the client sent and the
status it received. Gunicorn writes '"' in a value as '\\"' and leaves every '\\' alone, so
a value ending in '\\', or holding '\\"' as sent, is ambiguous in its log: for those the
exact path's reading is asserted (it happens to be what was sent).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest

from tests.test_fast_path_mixed import assert_same, read_both

HERE = Path(__file__).resolve().parent / "data" / "wild" / "formats" / "gunicorn" / "escapes"
TRUTH = json.loads((HERE / "requests.json").read_text(encoding="utf-8"))
REQUESTS = TRUTH["requests"]
RUNS = TRUTH["runs"]
QUOTES_PER_LINE = 6  # both formats: "%(r)s" "%(f)s" "%(a)s"


def logged(value: str | None) -> str | None:
    """What perfkit should read for a header value sent as UTF-8 bytes, or None (missing).

    Gunicorn (20.1 and 27.0 alike) decodes header bytes as Latin-1 and its log file writes
    the text as UTF-8: a non-ASCII value comes back double-encoded ('café' -> 'cafÃ©').
    That is what is in the file, and perfkit reads the file as it is: asserted here so a
    change on either side shows. An empty header is written as "" and read as ''.
    """
    if value is None:
        return None
    return value.encode("utf-8").decode("latin-1")


def missing(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def exact_path_lines(raw: bytes) -> tuple[set[int], set[int]]:
    """From the file's bytes: lines holding a backslash not followed by '"' (Gunicorn wrote
    a backslash the fast path cannot undo), and lines whose unescaped quotes (a '"' not
    after a backslash) are not the format's count (a value ended in a backslash, so its
    closing quote looks escaped)."""
    lines = raw.split(b"\n")[:-1]
    backslash = {i for i, line in enumerate(lines) if re.search(rb'\\(?!")', line)}
    quotes = {
        i for i, line in enumerate(lines)
        if line.count(b'"') - line.count(b'\\"') != QUOTES_PER_LINE
    }  # fmt: skip
    return backslash, quotes


@pytest.fixture(params=sorted(RUNS), ids=sorted(RUNS))
def run(request) -> dict:
    return RUNS[request.param]


def test_every_line_is_the_request_sent(run, monkeypatch):
    fast, exact, _ = read_both(HERE / run["log"], run["format"], monkeypatch)
    assert_same(fast, exact)
    account = fast.attrs["perfkit"]
    assert (account["lines"], account["parsed"], account["rejected"]) == (40, 40, 0)
    assert len(fast) == len(REQUESTS)
    for i, ((_, row), sent) in enumerate(zip(fast.iterrows(), REQUESTS, strict=True)):
        where = f"{run['log']} line {i + 1}"
        target = urlsplit(sent["target"])
        assert row["method"] == sent["method"], where
        assert row["path"] == target.path, where  # as sent: '%22', '%C3%A9' stay encoded
        if target.query:
            assert row["query"] == target.query, where  # '%22' and '%5C' as sent
        else:
            assert missing(row["query"]), where
        assert row["status"] == sent["status"], where
        assert row["client"] == "127.0.0.1", where
        for column, header in (("user_agent", "User-Agent"), ("referrer", "Referer")):
            want = logged(sent["headers"].get(header))
            got = row[column]
            if want is None:  # no header: Gunicorn writes "-", perfkit reads missing
                assert missing(got), (where, column, got)
            else:
                # 'agent\' and 'a\"b' as sent are written "agent\" and "a\\"b": ambiguous
                # in Gunicorn's escaping; the exact path (asserted equal above) reads them
                # as sent, and that is what is asserted.
                assert got == want, (where, column, got, want)
    if "%(D)s" in run["format"]:
        assert fast["duration_ms"].notna().all() and (fast["duration_ms"] > 0).all()


def test_nasty_values_are_written_as_recorded(run):
    """How Gunicorn wrote the nasty values (the premises of the test above)."""
    lines = (HERE / run["log"]).read_bytes().split(b"\n")
    by_agent = {r["headers"].get("User-Agent"): lines[i] for i, r in enumerate(REQUESTS)}
    assert b' "Go-http-client/1.1 \\"bridge\\""' in by_agent['Go-http-client/1.1 "bridge"']
    assert b' "C:\\agent"' in by_agent["C:\\agent"]  # a lone backslash: left alone
    assert b' "a\\\\"b"' in by_agent['a\\"b']  # '\"' sent: '\' kept, '"' escaped
    assert b' "agent\\"' in by_agent["agent\\"]  # ends in '\': the closing quote follows
    assert b' "x\\\\y"' in by_agent["x\\\\y"]  # two backslashes: kept as they are
    assert b' "caf\xc3\x83\xc2\xa9-bot/2' in by_agent["café-bot/2 Zürich ✓"]  # double-encoded
    assert b' ""' in by_agent[""]  # an empty User-Agent: two quotes


def test_fast_path_leaves_only_backslash_lines_to_the_exact_path(run, monkeypatch):
    raw = (HERE / run["log"]).read_bytes()
    fast, exact, sent_to_exact = read_both(HERE / run["log"], run["format"], monkeypatch)
    assert_same(fast, exact)
    backslash, quotes = exact_path_lines(raw)
    assert len(backslash) == 7  # C:\agent x2, a\"b x2, x\\y x2 (one line both), C:\dir
    # A value ending in '\' leaves its line with a backslash that IS followed by '"' (the
    # closing quote), so the backslash rule alone keeps it; it goes to the exact path by the
    # quote count instead. Exactly those lines are the difference:
    ending = {
        i for i, r in enumerate(REQUESTS)
        if any(v.endswith("\\") for v in r["headers"].values())
    }  # fmt: skip
    assert quotes - backslash == ending and len(ending) == 3
    assert sent_to_exact == len(backslash | quotes)
