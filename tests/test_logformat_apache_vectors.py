"""Apache LogFormat vectors: real Apache 2.4 logs (tests/data/wild/formats/apache) vs the truth.

Each recorded format logged the same 11 requests; the truth is what the
client sent and received (requests.json: method, target, status and body
size it got, UTC send/receive times) and what the CGI was told to do (sleep,
status, size). A vector is one (format, line) pair compared field by field,
or one malformed format Apache refused (malformed.json holds its verdict).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pytest

import perfkit
from perfkit.errors import InputError
from perfkit.io.logformat import apache, resolve

HERE = Path(__file__).parent / "data" / "wild" / "formats" / "apache"
FORMATS: dict[str, str] = json.loads((HERE / "formats.json").read_text())
REQUESTS: list[dict] = json.loads((HERE / "requests.json").read_text())
MALFORMED: dict[str, dict] = json.loads((HERE / "malformed.json").read_text())
TZ = "Asia/Kolkata"  # the recording Apache's TZ
MISSING = {"/nope", "/missing-doc"}  # not in the docroot: 404, then the ErrorDocument's 410

# format -> what its lines carry: time resolution (s/ms/us, None: no time checked),
# duration resolution (us/ms/s or None), which bytes (%b: '-' for none, %B: 0, %O: None
# = not checked), request ('r' always, '400' only on 400 lines), status ('final', None)
SPEC: dict[str, dict] = {
    "common": dict(time="s", dur=None, bytes="b"),
    "combined_D": dict(time="s", dur="us", bytes="b", ua=True),
    "orig_final": dict(time="s", dur=None, original=["status_original", "status_original_2"]),
    "orig_final_order": dict(time="s", dur=None, original=["status_original"]),
    "strftime_local": dict(time="s", dur="us", tz=TZ),
    "strftime_msec_doc": dict(time="ms", dur=None, bytes="b"),
    "strftime_usec_iso": dict(time="us", dur=None),
    "combined_plus_iso_msec": dict(time="ms", dur=None, bytes="b", ua=True),
    "epoch_all": dict(time="us", dur=None),
    "epoch_sec": dict(time="s", dur="us"),
    "epoch_msec": dict(time="ms", dur="us"),
    "epoch_usec": dict(time="us", dur="us"),
    "end_clf": dict(time="s", dur="us", end=True),
    "begin_clf": dict(time="s", dur=None),
    "strftime_rfc2822": dict(time="s", dur=None),
    "strftime_aliases": dict(time="s", dur="ms"),
    "strftime_doy": dict(time="s", dur=None, tz=TZ),
    "strftime_epoch_s": dict(time="s", dur=None),
    "units": dict(time="s", dur="us"),
    "conditions": dict(time="s", dur="us", dur_unless=(200, 304), bytes_if=(200, 201)),
    "condition_request": dict(time="s", dur="us", request="400"),
    "opaque": dict(time="s", dur=None),
    "ssl_combined_opensuse": dict(time="s", dur=None, bytes="b", status=None, ua=True),
    "parts": dict(time="s", dur=None, bytes="B"),
    "vars": dict(time="s", dur=None),
    "percent": dict(time="s", dur="us"),
}


def truth(i: int) -> dict:
    """What line `i` of every recorded log must say, from the requests sent."""
    sent = REQUESTS[i]
    path, _, query = sent["target"].partition("?")
    asked = {k: v[0] for k, v in parse_qs(query).items()}
    final = sent["response_status"]
    body = sent["response_body_bytes"]
    return {
        "method": sent["method"],
        "path": path,
        "query": query or None,
        "final": final,
        "original": 404 if path in MISSING else final,
        "body": body,
        "sleep_ms": int(asked.get("sleep", 0)),
        "before_ns": int(sent["before_utc_s"] * 1e9),
        "after_ns": int(sent["after_utc_s"] * 1e9),
        "headers": sent["headers"],
    }


def read(name: str, **kwargs) -> pd.DataFrame:
    return perfkit.read_access_log(HERE / f"{name}.log", format=FORMATS[name], **kwargs)


# Apache logs a request after the client has its response, so an end time (and a duration)
# may pass the client's receive time; the recorder waits 50 ms before the next request
# and Apache (-X, one process) logs each request before reading the next.
LOGGED_AFTER_NS = 50_000_000
_RES_NS = {"s": 10**9, "ms": 10**6, "us": 10**3}


def check_line(name: str, spec: dict, row: pd.Series, t: dict) -> list[str]:
    """The fields of one parsed line that differ from the truth (empty: the vector passes)."""
    bad = []
    request = spec.get("request", "r")
    if request == "r" or t["final"] == int(request):
        if row["method"] != t["method"] or row["path"] != t["path"]:
            bad.append(f"request {row['method']} {row['path']}")
        if t["query"] and (
            "s3cret" in str(row["query"])
            or not str(row["query"]).startswith(t["query"].split("&token")[0])
        ):
            bad.append(f"query {row['query']!r}")  # fmt: skip
    elif not (pd.isna(row["method"]) and pd.isna(row["path"])):
        bad.append(f"request should be '-' (condition), got {row['method']} {row['path']}")
    if spec.get("status", "final") == "final" and row["status"] != t["final"]:
        bad.append(f"status {row['status']} != final {t['final']}")
    for column in spec.get("original", []):
        if int(row[column]) != t["original"]:
            bad.append(f"{column} {row[column]} != original {t['original']}")
    if spec.get("bytes") == "b":
        want = t["body"] or None
        if (pd.isna(row["bytes"]) and want is not None) or (
            not pd.isna(row["bytes"]) and row["bytes"] != want
        ):
            bad.append(f"bytes {row['bytes']} != {want}")
    if spec.get("bytes") == "B" and row["bytes"] != t["body"]:
        bad.append(f"bytes {row['bytes']} != {t['body']}")
    if "bytes_if" in spec:
        shown = t["final"] in spec["bytes_if"] and t["body"]
        if (shown and row["bytes"] != t["body"]) or (not shown and not pd.isna(row["bytes"])):
            bad.append(f"conditional bytes {row['bytes']}")
    if spec.get("time"):
        res = _RES_NS[spec["time"]]
        stamp = row["time"].value
        low = t["before_ns"] // res * res
        high = t["after_ns"] + (LOGGED_AFTER_NS if spec.get("end") else 0)
        if not low <= stamp <= high:
            bad.append(f"time {row['time']} not within the request's send/receive window")
    if spec.get("dur"):
        duration = row["duration_ms"]
        elapsed_ms = (t["after_ns"] - t["before_ns"]) / 1e6
        if t["final"] in spec.get("dur_unless", ()):
            if not math.isnan(duration):
                bad.append(f"duration {duration} should be '-' (condition)")
        else:
            unit_ms = {"us": 0.001, "ms": 1, "s": 1000}[spec["dur"]]
            if not (t["sleep_ms"] - unit_ms <= duration <= elapsed_ms + LOGGED_AFTER_NS / 1e6):
                bad.append(f"duration {duration} ms outside [{t['sleep_ms']}, {elapsed_ms:.3f}]")
    if spec.get("ua"):
        ua = t["headers"].get("User-Agent")
        if ua and row["user_agent"] != ua:
            bad.append(f"user agent {row['user_agent']!r} != {ua!r}")
        referrer = t["headers"].get("Referer")
        if referrer and row["referrer"] != referrer:
            bad.append(f"referrer {row['referrer']!r}")
    return bad


def test_every_recorded_format_has_a_spec() -> None:
    assert set(SPEC) == set(FORMATS)
    assert len(REQUESTS) == 11


@pytest.mark.parametrize("name", sorted(SPEC))
def test_recorded_format_matches_truth(name: str) -> None:
    spec = SPEC[name]
    df = read(name, tz=spec.get("tz"), on_bad_lines="error")
    assert len(df) == len(REQUESTS)
    failures = {
        i: problems
        for i in range(len(REQUESTS))
        if (problems := check_line(name, spec, df.iloc[i], truth(i)))
    }
    assert failures == {}


def test_vector_count() -> None:
    """Every (format, line) vector and malformed format passes: the count the report gives."""
    written = passing = 0
    for name, spec in SPEC.items():
        df = read(name, tz=spec.get("tz"))
        for i in range(len(REQUESTS)):
            written += 1
            passing += i < len(df) and not check_line(name, spec, df.iloc[i], truth(i))
    for fmt in MALFORMED:
        written += 1
        try:
            apache.compile_format(fmt)
        except InputError:
            passing += 1
    assert (written, passing) == (26 * 11 + 7, 26 * 11 + 7)


def test_final_and_original_status_differ_after_an_internal_redirect() -> None:
    """%s is the original request's status, %>s the final one (Apache's ErrorDocument case);
    '<' and '>' in any order: the last one counts (%<>s final, %><s original)."""
    df = read("orig_final")
    nope = next(i for i in range(len(REQUESTS)) if truth(i)["path"] == "/nope")
    assert (df["status"].iloc[nope], int(df["status_original"].iloc[nope])) == (410, 404)
    fmt = resolve('%t "%r" %<>s %><s')
    assert [f.kind for f in fmt.fields][-2:] == ["status", "extra_opt"]
    fmt = resolve('%t "%r" %><s %<>s')
    assert [f.kind for f in fmt.fields][-2:] == ["extra_opt", "status"]


def test_strftime_without_zone_needs_tz_or_a_clf_time() -> None:
    """A strftime time without %z is the server's local time: read with tz= it is the right
    instant; without tz= it is taken as UTC and lands 5.5 h off (the adversarial case). When
    the line also holds %t, its offset is used (combined_plus_iso_msec needs no tz=)."""
    t = truth(0)
    right = read("strftime_local", tz=TZ)["time"].iloc[0].value
    wrong = read("strftime_local")["time"].iloc[0].value
    assert t["before_ns"] // 10**9 * 10**9 <= right <= t["after_ns"]
    assert wrong - right == 5 * 3600 * 10**9 + 30 * 60 * 10**9
    mixed = read("combined_plus_iso_msec")["time"].iloc[0].value
    assert t["before_ns"] // 10**6 * 10**6 <= mixed <= t["after_ns"]


def test_sub_second_times_agree_across_formats() -> None:
    """The same request's begin time, written as usec epoch, as strftime + usec_frac and as
    strftime + msec_frac, reads as the same instant (to the written precision)."""
    epoch = read("epoch_all")["time"].astype("int64")
    iso = read("strftime_usec_iso")["time"].astype("int64")
    doc = read("strftime_msec_doc")["time"].astype("int64")
    assert (epoch == iso).all()
    assert ((iso // 10**6) * 10**6 == doc).all()
    assert epoch.diff().iloc[1:].gt(0).all()  # sub-second order of the requests kept


def test_units_are_case_insensitive() -> None:
    """%{MS}T and %{Us}T are %{ms}T and %{us}T (Apache compares units case-insensitively)."""
    df = read("units")
    assert (df["duration_ms_2"].astype(int) == df["also_duration_ms"].astype(int)).all()
    assert (df["duration_us_2"].astype(int) == (df["duration_ms"] * 1000).round()).all()
    kinds = [f.kind for f in resolve("%t %r %{MS}T").fields]
    assert kinds[-1] == "duration_ms"


def test_opaque_directives_are_string_columns() -> None:
    """Directives perfkit does not model read as opaque columns (openSUSE ssl_combined,
    %{REMOTE}p, %{TID}P, %{VAR}x, %^FB that may be empty); known ones keep their meaning."""
    df = read("opaque", on_bad_lines="error")
    parts = read("parts")
    assert df["pid"].tolist() == parts["pid"].tolist()  # %{pid}P is %P
    assert df["ssl_ssl_protocol"].isna().all()  # no TLS on the recording port
    assert df["local_addr"].eq("127.0.0.1").all()
    assert df["remote_port"].astype(int).between(1024, 65535).all()
    assert int(df["hextid"].iloc[0], 16) == int(df["tid"].iloc[0])  # same thread two ways
    assert df["ttfb_us"].isna().any() or (df["ttfb_us"] == "").any()
    ssl = read("ssl_combined_opensuse", on_bad_lines="error")
    assert ssl["method"].tolist() == [truth(i)["method"] for i in range(len(REQUESTS))]


def test_conditions_hold_dash_where_the_status_fails() -> None:
    df = read("conditions", on_bad_lines="error")
    statuses = [truth(i)["final"] for i in range(len(REQUESTS))]
    ua_shown = df["user_agent"].notna().tolist()
    assert ua_shown == [s in (400, 501) for s in statuses]
    assert df["user_agent"][df["status"] == 400].iloc[0] == 'perf "quoted" \\agent'


@pytest.mark.parametrize("fmt", sorted(MALFORMED))
def test_malformed_formats_are_refused_like_apache_does(fmt: str) -> None:
    """Apache's own configtest refused each (malformed.json); perfkit names the position."""
    assert MALFORMED[fmt]["exit"] != 0
    with pytest.raises(InputError, match=r"column \d+"):
        apache.compile_format(fmt)


@pytest.mark.parametrize(
    ("fmt", "column"),
    [("%t %", 4), ("%t %{param", 4), ("%t %^x", 4), ("%h %t %>", 7), ("%t % s", 4)],
)
def test_malformed_position(fmt: str, column: int) -> None:
    with pytest.raises(InputError, match=rf"directive at column {column} "):
        apache.compile_format(fmt)


def test_cli_refuses_a_malformed_format_with_exit_2(capsys) -> None:
    from perfkit.cli import main

    assert main(["summary", str(HERE / "common.log"), "--format", "%h %t %{param"]) == 2
    err = capsys.readouterr().err
    assert "column 7" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("fmt", "line", "expect"),
    [
        # documented forms the recording did not cover, checked against Apache's definitions
        (
            "%t %{%d/%m/%y %I:%M:%S %p}t %>s",
            "[05/Dec/2026:21:52:56 +0530] 05/12/26 09:52:56 PM 200",
            "2026-12-05T16:22:56Z",
        ),
        ("%{%b %e %H:%M:%S %Y %z}t %>s", "Dec  5 21:52:56 2026 +0530 200", "2026-12-05T16:22:56Z"),
        (
            "%{end:msec}t %{begin:usec}t %>s",
            "1796487776589 1796487776583760 200",
            "2026-12-05T16:22:56.583760Z",
        ),
        (
            "%{%Y-%m-%d %H:%M:%S}t.%{usec_frac}t %{%z}t %>s",
            "2024-02-29 23:59:59.000001 -0800 204",
            "2024-03-01T07:59:59.000001Z",
        ),
    ],
)
def test_documented_time_forms(fmt: str, line: str, expect: str, tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text(line + "\n")
    df = perfkit.read_access_log(path, format=fmt, on_bad_lines="error")
    assert df["time"].iloc[0] == pd.Timestamp(expect)


def test_impossible_strftime_date_is_rejected(tmp_path: Path) -> None:
    """31 Feb written by a strftime format is rejected, not rolled over to 3 March."""
    path = tmp_path / "a.log"
    path.write_text("2024-02-31 10:00:00 200\n2024-02-29 10:00:00 200\n")
    df = perfkit.read_access_log(path, format="%{%Y-%m-%d %H:%M:%S}t %>s", on_bad_lines="skip")
    assert df["time"].tolist() == [pd.Timestamp("2024-02-29 10:00:00", tz="UTC")]
    assert df.attrs["perfkit"]["rejected"] == 1


def test_issue_original_and_final_status_example(tmp_path: Path) -> None:
    """The issue's line: `%<s %s %>s` on `201 202 203` has the final status 203."""
    path = tmp_path / "a.log"
    path.write_text('[05/Dec/2026:21:52:56 +0530] "GET / HTTP/1.1" 201 202 203\n')
    df = perfkit.read_access_log(path, format='%t "%r" %<s %s %>s', on_bad_lines="error")
    assert df["status"].tolist() == [203]
    assert (df["status_original"].tolist(), df["status_original_2"].tolist()) == (["201"], ["202"])


def test_opaque_columns_do_not_leak_personal_data(tmp_path: Path) -> None:
    """An SSL client DN's e-mail and a URL password in opaque columns are masked; a value that
    only looks alike ('TLSv1.3', 'user@') is kept."""
    path = tmp_path / "a.log"
    path.write_text(
        '[05/Dec/2026:21:52:56 +0530] "GET / HTTP/1.1" 200 bob.smith@example.co.uk TLSv1.3 '
        '"https://u:pw123@h.example/x" user@\n'
    )
    fmt = '%t "%r" %>s %{SSL_CLIENT_S_DN_Email}x %{SSL_PROTOCOL}x "%{X-Origin}i" %{X}x'
    df = perfkit.read_access_log(path, format=fmt, on_bad_lines="error")
    text = df.astype(str).to_string()
    assert "bob.smith" not in text and "pw123" not in text
    assert df["ssl_ssl_protocol"].iloc[0] == "TLSv1.3" and df["ssl_x"].iloc[0] == "user@"


@pytest.mark.parametrize(
    ("fmt", "far"),
    [
        ('%{usec}t "%r" %>s', "999999999999999999"),
        ('%{msec}t "%r" %>s', "999999999999999"),
        ('%{sec}t "%r" %>s', "999999999999"),
        ('%{%s}t "%r" %>s', "999999999999"),
        ('%{%Y-%m-%d %H:%M:%S}t "%r" %>s', "9999-12-31 23:59:59"),
    ],
)
def test_times_beyond_pandas_range_are_rejected_not_crashing(fmt, far, tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text(f'{far} "GET / HTTP/1.1" 200\n1796487776 "GET / HTTP/1.1" 200\n'
                    if "%Y" not in fmt else
                    f'{far} "GET / HTTP/1.1" 200\n2026-12-05 10:00:00 "GET / HTTP/1.1" 200\n')  # fmt: skip
    df = perfkit.read_access_log(path, format=fmt, on_bad_lines="skip")
    assert len(df) == 1
    assert df.attrs["perfkit"]["rejected"] == 1
    assert any("out of range" in r for r in df.attrs["perfkit"]["reasons"])
