"""Issue 18: the fast path works line by line, not block by block.

Blocks mixing clean lines with escaped quotes, damaged lines, IPv6 clients and
UTC offsets are read by the tokenizer (clean lines) and the exact RE2 path (the
rest), put back in line order. The result must be what the exact path alone
gives (frame and account, rejected lines with their numbers and reasons) and
what the lines were rendered from; and only the damaged lines (and lines with an escape
other than an escaped quote, which the tokenizer undoes) may take the exact path (a spy
counts them), at densities from 1 in 10,000 to one in two.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import perfkit.io.access_log as access_log
import perfkit.io.textfiles as textfiles
from perfkit import read_access_log
from perfkit.errors import PerfkitWarning
from tests.test_access_log_roundtrip import ESCAPES, FORMATS, PRINTABLE, SEGMENT, duration

OFFSETS = ["+0000", "+0100", "-0530", "+1400", "-1200"]
# damage done to a good line; each makes the exact path reject it
DAMAGE = {
    "truncated": lambda line: line[: len(line) // 2],
    "blank": lambda line: "",
    "extra word": lambda line: line + " extra",
    "status 999": lambda line: line.replace('" 200 ', '" 999 ', 1),
    "negative bytes": lambda line: line.replace(" 200 5 ", " 200 -5 ", 1),
    "quote lost": lambda line: line.replace('" 200 ', " 200 ", 1),
}
# what Gunicorn and Apache write for a user agent holding quotes (nginx writes \x22)
QUOTED_AGENT = 'Go-http-client/1.1 "marketplace-bridge"'

record = st.fixed_dictionaries(
    {
        "client": st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str),
        "when": st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2037, 1, 1)),
        "offset": st.sampled_from(OFFSETS),
        "path": st.lists(SEGMENT, min_size=0, max_size=4).map(lambda p: "/" + "/".join(p)),
        "agent": st.one_of(st.just(QUOTED_AGENT), PRINTABLE, st.just("ua")),
        "us": st.integers(0, 10**9),
        "damage": st.one_of(st.none(), st.none(), st.sampled_from(sorted(DAMAGE))),
    }
)


def render(r: dict, server: str) -> str:
    """A good line (status 200, 5 bytes) as `server` writes it, then damaged if asked."""
    stamp = r["when"].strftime("%d/%b/%Y:%H:%M:%S ") + r["offset"]
    line = (
        f'{r["client"]} - - [{stamp}] "GET {r["path"]} HTTP/1.1" 200 5 "-" '
        f'"{ESCAPES[server](r["agent"])}" {duration(r["us"], server)}'
    )
    return DAMAGE[r["damage"]](line) if r["damage"] else line


def utc(r: dict) -> pd.Timestamp:
    sign = -1 if r["offset"][0] == "-" else 1
    offset = dt.timedelta(hours=int(r["offset"][1:3]), minutes=int(r["offset"][3:]))
    return pd.Timestamp(r["when"].replace(microsecond=0) - sign * offset, tz="UTC")


def read_both(path, fmt, monkeypatch) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """`path` read by the fast path (with how many lines it left to the exact path) and by
    the exact path alone."""
    exact_lines = []
    extract = access_log.extract

    def spy(lines, fmt):
        exact_lines.append(len(lines))
        return extract(lines, fmt)

    frames = []
    for exact in (False, True):
        with monkeypatch.context() as patch, warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfkitWarning)
            patch.setattr(access_log, "extract", spy)
            if exact:
                patch.setattr(access_log, "tokenize", lambda *a, **k: None)
            frames.append(read_access_log(path, format=fmt))
        if not exact:
            sent = sum(exact_lines)
    return frames[0], frames[1], sent


def assert_same(fast: pd.DataFrame, exact: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(fast, exact)
    a, b = fast.attrs["perfkit"], exact.attrs["perfkit"]
    for key in ("lines", "parsed", "rejected", "rejected_lines", "notes"):
        assert a[key] == b[key], key
    assert dict(a["reasons"]) == dict(b["reasons"])


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(record, min_size=1, max_size=40).filter(
        lambda rs: any(r["damage"] is None for r in rs)  # a file of no good line is an error
    ),
    server=st.sampled_from(sorted(ESCAPES)),
)
def test_mixed_blocks_read_as_the_exact_path_does(tmp_path_factory, monkeypatch, records, server):
    path = tmp_path_factory.mktemp("mixed") / "access.log"
    path.write_text("\n".join(render(r, server) for r in records) + "\n", encoding="utf-8")
    fast, exact, sent = read_both(path, FORMATS[server], monkeypatch)
    assert_same(fast, exact)
    good = [r for r in records if r["damage"] is None]
    assert len(fast) == len(good)
    assert fast.attrs["perfkit"]["rejected"] == len(records) - len(good)
    for (_, row), r in zip(fast.iterrows(), good, strict=True):
        assert row["client"] == r["client"] and row["path"] == r["path"]
        assert row["time"].tz_convert("UTC") == utc(r)
        assert row["user_agent"] == r["agent"]
        expected_ms = r["us"] // 1000 if server == "nginx" else r["us"] / 1000
        assert row["duration_ms"] == pytest.approx(expected_ms, abs=1e-6)
    rejected = [k + 1 for k, r in enumerate(records) if r["damage"] is not None]
    assert [kept["line"] for kept in fast.attrs["perfkit"]["rejected_lines"]] == rejected
    # only damaged lines and lines with an escape other than an escaped quote may leave the
    # fast path (a single clean line may still follow them when the block holds nothing else)
    offending = sum(r["damage"] is not None or _other_escape(r["agent"], server) for r in records)
    assert sent <= offending or sent == len(records)


def _other_escape(agent: str, server: str) -> bool:
    """Whether `server` writes `agent` with a backslash that does not escape a quote (nginx:
    any backslash; it writes '"' as '\\x22')."""
    text = ESCAPES[server](agent)
    if server == "nginx":
        return "\\" in text
    return any(text[i + 1 : i + 2] != '"' for i, c in enumerate(text) if c == "\\")


def _realistic(n: int, density: float, seed: int) -> tuple[list[str], np.ndarray, list[dict]]:
    """`n` Gunicorn lines (IPv6 clients, +0100, percent-encoded queries) of which about
    `density` hold an escaped quote or damage; the lines, which are damaged, the truth of
    each."""
    rng = np.random.default_rng(seed)
    offending = rng.random(n) < density
    if not offending.any():
        offending[n // 2] = True
    damage = sorted(DAMAGE)
    lines, truth = [], []
    start = dt.datetime(2024, 10, 10, 1, 0, 0)
    for i in range(n):
        client = f"2001:db8::{i:x}" if i % 8 == 0 else f"10.0.{i % 250}.{i % 7 + 1}"
        query = f"?q=bolt%20M{i % 12}&page={i % 5}" if i % 7 == 0 else ""
        r = {"client": client, "when": start + dt.timedelta(seconds=i // 3), "offset": "+0100",
             "path": f"/api/bins/A-{i % 23:02d}-{i % 17:02d}", "us": 1000 + i,
             "agent": "python-requests/2.31", "damage": None}  # fmt: skip
        if offending[i]:
            if rng.random() < 0.5:
                r["agent"] = QUOTED_AGENT
            else:
                r["damage"] = damage[int(rng.integers(len(damage)))]
        line = render(r, "gunicorn").replace(f'"GET {r["path"]} ', f'"GET {r["path"]}{query} ')
        lines.append(line)
        truth.append({**r, "query": query[1:] or None})
    damaged = np.array([r["damage"] is not None for r in truth])
    assert (damaged.any() and (offending & ~damaged).any()) or density < 1e-3
    return lines, damaged, truth


@pytest.mark.parametrize("density", [1e-4, 0.012, 0.5], ids=["1-in-10000", "1.2%", "50%"])
def test_only_damaged_lines_take_the_exact_path(tmp_path, monkeypatch, density):
    n = 12_000
    lines, damaged, truth = _realistic(n, density, seed=18)
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(textfiles, "BLOCK_BYTES", 256 << 10)  # about ten blocks
    fast, exact, sent = read_both(path, FORMATS["gunicorn"], monkeypatch)
    assert_same(fast, exact)
    # the damaged lines alone took the exact path: escaped quotes ('\\"') are undone by the
    # tokenizer, and the rest of every block stayed columnar
    assert sent == int(damaged.sum())
    good = [r for r in truth if r["damage"] is None]
    assert len(fast) == len(good)
    assert fast["client"].tolist() == [r["client"] for r in good]
    assert fast["path"].tolist() == [r["path"] for r in good]
    assert fast["query"].fillna("").tolist() == [r["query"] or "" for r in good]
    assert fast["user_agent"].tolist() == [r["agent"] for r in good]
    assert (fast["time"].dt.tz_convert("UTC") == pd.DatetimeIndex([utc(r) for r in good])).all()
    assert str(fast["time"].dt.tz) == "UTC+01:00"
    assert fast["duration_ms"].tolist() == [r["us"] / 1000 for r in good]


NUMBERS = {  # (server, the line's field, a form the tokenizer converts but the pattern refuses)
    "status in hex": ("gunicorn", " 200 5 ", " 0x1F4 5 "),
    "status with a leading zero": ("gunicorn", " 200 5 ", " 0200 5 "),
    "bytes in hex": ("gunicorn", " 200 5 ", " 200 0x10 "),
    "bytes with a plus": ("gunicorn", " 200 5 ", " 200 +5 "),
    "microseconds in hex": ("gunicorn", 'ua" 1500', 'ua" 0x5DC'),
    "seconds with an exponent": ("nginx", 'ua" 1.500', 'ua" 15e-1'),
    "seconds with a plus": ("nginx", 'ua" 1.500', 'ua" +1.5'),
}


@pytest.mark.parametrize("case", list(NUMBERS))
def test_numbers_the_patterns_refuse_are_refused_on_the_fast_path(tmp_path, monkeypatch, case):
    server, good, bad = NUMBERS[case]
    line = '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /{} HTTP/1.1" 200 5 "-" "ua" {}\n'
    took = "1500" if server == "gunicorn" else "1.500"
    lines = [line.format(p, took) for p in ("a", "b", "c")]
    assert good in lines[1]
    lines[1] = lines[1].replace(good, bad, 1)
    path = tmp_path / "access.log"
    path.write_text("".join(lines))
    fast, exact, sent = read_both(path, FORMATS[server], monkeypatch)
    assert_same(fast, exact)
    assert fast["path"].tolist() == ["/a", "/c"]
    assert [kept["line"] for kept in fast.attrs["perfkit"]["rejected_lines"]] == [2]
    assert sent == 1  # only that line left the fast path


def test_a_zone_seen_only_on_a_rejected_line_does_not_change_the_frames_zone(tmp_path, monkeypatch):
    """Found by the property test above: a line the tokenizer hands to the exact path (negative
    bytes, rejected there) stayed in the tokenizer's dictionary of UTC offsets, so the fast path
    saw two zones (+0000, +0100) and returned UTC where the exact path, seeing only the good
    line's +0100, returned UTC+01:00. The zone comes from the rows read, on both paths."""
    path = tmp_path / "access.log"
    path.write_text('0.0.0.0 - - [01/Jan/2000:00:00:00 +0000] "GET / HTTP/1.1" 200 -5 "-" "ua" 0\n'
                    '0.0.0.0 - - [01/Jan/2000:00:00:00 +0100] "GET / HTTP/1.1" 200 5 "-" "0" 0\n')
    fast, exact, sent = read_both(path, FORMATS["apache"], monkeypatch)
    assert_same(fast, exact)
    assert str(fast["time"].dt.tz) == "UTC+01:00" and sent == 1  # one line left to the exact path


# Values from an alphabet of backslashes, quotes and spaces, written as the server writes
# them (Gunicorn: '"' as '\\"', a backslash left alone, so a value may end in '\\' before its
# closing quote; Apache: both escaped); a quote escaped inside the time, which no server writes.
NASTY = st.text(alphabet='a\\" -', max_size=6)
TIME = "[10/Oct/2024:13:55:36 +0000]"
TIMES = st.sampled_from([TIME, TIME.replace("Oct", 'O\\"t')])
nasty_line = st.fixed_dictionaries(
    {"client": NASTY, "user": NASTY, "time": TIMES, "path": NASTY, "referrer": NASTY, "agent": NASTY}
)
TRICKY = [  # each beside clean lines; what the easy rule (trust every '\"') gets wrong
    '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /x\\" 200 5 "-" "ua" 1500',  # ends in '\'
    '10.0.0.1 - a\\"b [10/Oct/2024:13:55:36 +0000] "GET /x HTTP/1.1" 200 5 "-" "ua" 1500',
    '10.0.0.1\\" - - [10/Oct/2024:13:55:36 +0000] "GET /x HTTP/1.1" 200 5 "-" "ua" 1500',
    '10.0.0.1 - - [10/O\\"t/2024:13:55:36 +0000] "GET /x HTTP/1.1" 200 5 "-" "ua" 1500',
    '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /x HTTP/1.1" 200 5 "-" "a\\\\"b" 1500',
    '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /x HTTP/1.1" 200 5 "\\"" "\\" \\"" 1500',
    '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /x HTTP/1.1" 200 5 "-" "u"a" 1500',
    '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /x\\" 200 5 "-" "u"a" 1500',  # adds up
    '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] x"GET /x" 200 5 "-" "ua" 1500',
    '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] x\\"GET /x\\" 200 5 "-" "ua" 1500 ""',
]
CLEAN = '10.0.0.2 - - [10/Oct/2024:13:55:37 +0000] "GET /y HTTP/1.1" 200 7 "-" "ok" 2500'


@pytest.mark.parametrize("server", ["gunicorn", "apache", "nginx"])
@pytest.mark.parametrize("tricky", range(len(TRICKY)))
def test_escaped_quotes_the_easy_rule_misreads(tmp_path, monkeypatch, server, tricky):
    path = tmp_path / "access.log"
    path.write_text("\n".join([CLEAN, TRICKY[tricky], CLEAN, TRICKY[-1 - tricky], CLEAN]) + "\n")
    fast, exact, _ = read_both(path, FORMATS[server], monkeypatch)
    assert_same(fast, exact)
    assert (fast["path"] == "/y").sum() == 3  # the clean lines are read on either path


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(nasty_line, min_size=1, max_size=8), server=st.sampled_from(["gunicorn", "apache"]))
def test_backslashes_and_quotes_as_servers_write_them_read_as_the_exact_path_does(
    tmp_path_factory, monkeypatch, records, server
):
    esc = ESCAPES[server]
    lines = [
        f'{esc(r["client"]) or "-"} - {esc(r["user"]) or "-"} {r["time"]} '
        f'"GET /{esc(r["path"])} HTTP/1.1" 200 5 "{esc(r["referrer"])}" "{esc(r["agent"])}" 1500'
        for r in records
    ]
    path = tmp_path_factory.mktemp("nasty") / "access.log"
    path.write_text("\n".join([CLEAN, *lines, CLEAN]) + "\n")
    fast, exact, _ = read_both(path, FORMATS[server], monkeypatch)
    assert_same(fast, exact)


# Known limits of the fast path, kept in view: text glued to a closing quote ('"ua"x', or an
# escaped quote after it, '""\\"', which the tokenizer takes into the value) and two lines
# whose quote counts make up for each other within a block (the block's count adds up, so
# neither is counted by itself; the tokenizer reads a request written without quotes and a
# user written as '""'). Both need a quote in a value that the server did not escape, which
# no server writes; finding them costs a search of every quote's neighbours and every
# line's count (0.08-0.14 s of CPU per million lines). strict: a fix shows up as a pass.
KNOWN = {
    "glued to a closing quote": [
        CLEAN, '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /x HTTP/1.1" 200 5 "-" "ua"x 1500'
    ],
    "an escaped quote glued to a closing quote": [
        '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /x HTTP/1.1" 200 5 "-" ""\\" 1500'
    ],
    "counts that make up for each other": [
        '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] GET 200 5 "-" "ua" 1500',
        '10.0.0.3 - "" [10/Oct/2024:13:55:38 +0000] "GET /z HTTP/1.1" 200 5 "-" "ua" 1500',
    ],
    "an escaped line that makes up for another": [
        '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] x\\"GET\\" 200 5 "-" "ua" 1500',
        '10.0.0.3 - "" [10/Oct/2024:13:55:38 +0000] "GET /z HTTP/1.1" 200 5 "-" "ua" 1500',
    ],
}


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="a known limit (see KNOWN)")
@pytest.mark.parametrize("case", list(KNOWN))
def test_known_limits_of_the_fast_path(tmp_path, monkeypatch, case):
    path = tmp_path / "access.log"
    path.write_text("\n".join([CLEAN, *KNOWN[case], CLEAN]) + "\n")
    fast, exact, _ = read_both(path, FORMATS["gunicorn"], monkeypatch)
    assert_same(fast, exact)


G = '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "ua" 1000'
# found by review: lines the tokenizer must leave to the exact path (or read as it does)
REVIEWED = {
    "a dropped line's method and protocol": [
        '10.0.0.9 - - [10/Oct/2024:13:55:35 +0000] "PROPFIND /dav HTTP/2.0" 999 5 "-" "s" 1000',
        G, G.replace("GET /a", "POST /b")],
    "lowercase and capital methods": [G.replace("GET", "get"), G, G.replace("GET", "Get")],
    "a line rejected for its time, with a method of its own": [
        G.replace("GET /a HTTP/1.1", "PRI /x HTTP/2.0").replace("/2024:", "/9999:"), G],
    "a five-digit year": [G, G.replace("/2024:", "/20245:")],
    "an offset with a colon": [G, G.replace("+0000]", "+00:00]")],
    "an offset Z": [G, G.replace("+0000]", "Z]")],
    "a short offset": [G, G.replace("+0000]", "+010]")],
    "two brackets": [G, G.replace("[10/", "[[10/")],
    "no bracket": [G, G.replace("[10/", "10/")],
    "a status '-'": [G, G.replace(" 200 5 ", " - 5 ")],
    "a duration '-'": [G, G.replace(" 1000", " -")],
}


@pytest.mark.parametrize("case", list(REVIEWED))
def test_lines_a_review_found_read_as_the_exact_path_does(tmp_path, monkeypatch, case):
    path = tmp_path / "access.log"
    path.write_text("\n".join(REVIEWED[case]) + "\n")
    fast, exact, _ = read_both(path, FORMATS["gunicorn"], monkeypatch)
    assert_same(fast, exact)
    assert list(fast["method"].cat.categories) == sorted(set(fast["method"]), key=list(
        fast["method"]).index)  # only the methods of the rows read, in order of first use
    assert (fast["path"] == "/a").any()
    monkeypatch.setattr(textfiles, "BLOCK_BYTES", 100)  # a block a line: the same frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfkitWarning)
        assert_same(read_access_log(path, format=FORMATS["gunicorn"]), fast)


def test_a_method_field_of_its_own_is_checked_on_the_fast_path(tmp_path, monkeypatch):
    """`%(m)s` written as a word of its own (not inside the request line): the exact path's
    pattern refuses 'G1T' and a 25-letter method; so must the fast path."""
    fmt = "%(h)s %(l)s %(u)s %(t)s %(m)s %(U)s %(s)s %(D)s"
    good = "10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] GET /a 200 1000"
    lines = [good, good.replace("GET", "G1T"), good.replace("GET", "X" * 25),
             good.replace("GET", "get")]  # fmt: skip
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    fast, exact, _ = read_both(path, fmt, monkeypatch)
    assert_same(fast, exact)
    assert fast["method"].tolist() == ["GET", "GET"]
    assert [kept["line"] for kept in fast.attrs["perfkit"]["rejected_lines"]] == [2, 3]


def test_an_escaped_quote_in_a_word_whose_pattern_decides_goes_to_the_exact_path(
    tmp_path, monkeypatch
):
    """Apache's '%q' written as a word of its own is '' or '?...': '\\"x' there is refused by
    its pattern on the exact path. The tokenizer would undo the escape and read '"x', which
    converts to no query; a quote in such a word sends the row to the exact path instead."""
    fmt = '%h %l %u %t "%r" %>s %b %q'
    good = '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 ?k=1'
    lines = [good, good.replace("?k=1", '\\"x'), good.replace("?k=1", '?k=\\"2')]
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    fast, exact, sent = read_both(path, fmt, monkeypatch)
    assert_same(fast, exact)
    assert [kept["line"] for kept in fast.attrs["perfkit"]["rejected_lines"]] == [2]
    assert fast["query"].tolist() == ["k=1", 'k="2'] and sent == 2  # Apache's escape undone
