"""JSON-lines access logs and format sniffing on real recordings (tests/data/wild/formats).

nginx 1.22 wrote json_uri.log / json_partial.log (``log_format ... escape=json``,
`uri` holding $request_uri with secrets in the query); Gunicorn 27 wrote
changed_midway.log with its default format, then, restarted, the same plus
``"%(L)s"``. The truth is the requests the recorder sent (requests.json).
plus_status.jsonl is nginx Plus API status JSON written from its documentation.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

import perfkit
from perfkit.errors import InputError

WILD = Path(__file__).parent / "data" / "wild" / "formats"
NGINX = json.loads((WILD / "nginx" / "requests.json").read_text())
GUNICORN = json.loads((WILD / "gunicorn" / "requests.json").read_text())
SECRETS = ("abc123secret", "zzz999", "hunter2")
PARTIAL = {"time": "time", "path": "uri", "duration_s": "response_time"}


def _read(path: Path, **kwargs) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return perfkit.read_access_log(path, **kwargs)


def _truth() -> pd.DataFrame:
    rows = []
    for sent in NGINX["requests"]:
        path, _, query = sent["target"].partition("?")
        rows.append({"method": sent["method"], "path": path, "query": query or None,
                     "status": sent["status"]})  # fmt: skip
    return pd.DataFrame(rows)


def _no_secret(df: pd.DataFrame) -> None:
    text = df.astype(str).to_string()
    assert not [s for s in SECRETS if s in text]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("json_uri", "auto"), ("json_partial", PARTIAL), ("json_partial", {"path": "uri"})],
)
def test_nginx_json_uri_is_split_redacted_and_recognised(name, fmt) -> None:
    """`uri` holding the query string is split into path + query and its secrets redacted;
    a partial mapping (or one without `time`) still recognises method, status and time."""
    df = _read(WILD / "nginx" / f"{name}.log", format=fmt, on_bad_lines="error")
    truth = _truth()
    assert df["method"].astype(str).tolist() == truth["method"].tolist()
    assert df["path"].tolist() == truth["path"].tolist()
    assert df["status"].tolist() == truth["status"].tolist()
    assert df["route"].astype(str).str.contains(r"\?").sum() == 0
    for got, want in zip(df["query"], truth["query"], strict=True):
        if pd.isna(want):
            assert pd.isna(got)
        else:  # the names and the harmless values stay, the secret values go
            assert [kv.split("=")[0] for kv in got.split("&")] == [
                kv.split("=")[0] for kv in want.split("&")
            ]
            assert "debug=1" in got if "debug=1" in want else True
    _no_secret(df)
    lo = min(r["before_utc_s"] for r in NGINX["requests"]) // 1
    hi = max(r["after_utc_s"] for r in NGINX["requests"])
    seconds = df["time"].astype("int64") / 1e9
    assert seconds.between(lo, hi).all()
    # request_time is recognised, response_time only when mapped (0.000 s at nginx)
    timed = name == "json_uri" or "duration_s" in fmt
    assert df["duration_ms"].notna().all() if timed else df["duration_ms"].isna().all()
    assert int((df["status"] >= 400).sum()) == int((truth["status"] >= 400).sum())


def test_user_mapping_wins_over_recognition(tmp_path: Path) -> None:
    """The adversarial case of merging: the user says `request_time` is in milliseconds;
    recognition alone reads it as seconds (x1000). The user's key wins, and the JSON field
    the user claimed is not recognised again under another column."""
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"time": "2026-01-01T00:00:00Z", "path": "/a", "request_time": 12, "status": 200}\n'
    )
    assert _read(path)["duration_ms"].iloc[0] == 12000
    df = _read(path, format={"duration_ms": "request_time"})
    assert df["duration_ms"].iloc[0] == 12
    df = _read(path, format={"client": "path"})  # the user claims `path` for the client
    assert df["client"].iloc[0] == "/a" and pd.isna(df["path"].iloc[0])


def test_uri_without_query_and_separate_query_field(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"time": "2026-01-01T00:00:00Z", "uri": "/plain", "status": 200}\n'
        '{"time": "2026-01-01T00:00:01Z", "uri": "/q?x=1&api_key=k3y", "status": 200}\n'
    )
    df = _read(path)
    assert df["path"].tolist() == ["/plain", "/q"]
    assert pd.isna(df["query"].iloc[0]) and "k3y" not in df["query"].iloc[1]


def test_status_json_is_not_an_access_log(capsys) -> None:
    """nginx Plus status JSON has a timestamp but no request field: refused, naming what was
    found and what was expected; the CLI exits 2 without a traceback."""
    path = WILD / "nginx" / "plus_status.jsonl"
    with pytest.raises(InputError) as caught:
        perfkit.read_access_log(path)
    message = str(caught.value)
    assert "plus_status.jsonl" in message
    assert "server_zones" in message and "method" in message and "status" in message
    from perfkit.cli import main

    assert main(["summary", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not an access log" in err and "Traceback" not in err


def test_time_only_and_status_is_enough(tmp_path: Path) -> None:
    """The refusal is not too eager: time + status alone is a request log."""
    path = tmp_path / "a.jsonl"
    path.write_text('{"time": "2026-01-01T00:00:00Z", "status": 504}\n')
    assert _read(path)["status"].tolist() == [504]


def _phases() -> tuple[list[dict], list[dict]]:
    first, second = GUNICORN["phases"]
    return first["requests"], second["requests"]


def test_gunicorn_format_changed_midway() -> None:
    """Gunicorn restarted with ' "%(L)s"' added: the format that reads the most lines is used,
    the earlier lines are rejected, and the account says where the format changed."""
    first, second = _phases()
    df = _read(WILD / "gunicorn" / "changed_midway.log")
    account = df.attrs["perfkit"]
    assert (account["parsed"], account["rejected"]) == (len(second), len(first))
    assert f"changed at line {len(first) + 1}" in " ".join(account["notes"])
    assert df["path"].tolist() == [r["target"] for r in second]
    assert df["status"].tolist() == [r["status"] for r in second]
    for got, sent in zip(df["duration_ms"], second, strict=True):
        slept = int(sent["target"].rsplit("/", 1)[1]) if "/sleep/" in sent["target"] else 0
        assert slept <= got <= (sent["after_utc_s"] - sent["before_utc_s"]) * 1000
    assert "x_forwarded_for" not in df.columns  # not read as nginx 'main'


def test_sniff_samples_past_the_head(tmp_path: Path) -> None:
    """Adversarial: 150 lines of the old format first, then 600 of the new: the first 100
    lines alone say 'combined'; sampling the middle and end picks the new format."""
    lines = (WILD / "gunicorn" / "changed_midway.log").read_text().splitlines()
    old, new = lines[:4], lines[4:]
    path = tmp_path / "a.log"
    path.write_text("\n".join([old[i % 4] for i in range(150)] + [new[i % 6] for i in range(600)])
                    + "\n")  # fmt: skip
    df = _read(path)
    account = df.attrs["perfkit"]
    assert account["format"] == "gunicorn_L"
    assert (account["parsed"], account["rejected"]) == (600, 150)
    assert "changed at line 151" in " ".join(account["notes"])
    # and the other way round: the old format in most lines, the change at the end
    path.write_text("\n".join([old[i % 4] for i in range(600)] + [new[i % 6] for i in range(150)])
                    + "\n")  # fmt: skip
    account = _read(path).attrs["perfkit"]
    assert account["format"] == "combined" and account["rejected"] == 150
    assert "changed at line 601" in " ".join(account["notes"])


@pytest.mark.parametrize(("last", "name"), [('"10.1.2.3"', "nginx_main"), ('"-"', "nginx_main"),
                                            ('"0.120787"', "gunicorn_L")])  # fmt: skip
def test_quoted_last_field_decides_by_its_value(tmp_path: Path, last: str, name: str) -> None:
    """A quoted address or '-' after the user agent is nginx's X-Forwarded-For; a quoted
    number of seconds is Gunicorn's %(L)s (the issue's file was read as nginx_main)."""
    path = tmp_path / "a.log"
    base = '127.0.0.1 - - [05/Dec/2026:17:00:07 +0000] "GET /x HTTP/1.1" 200 5 "-" "ua"'
    path.write_text(f"{base} {last}\n" * 3)
    assert _read(path).attrs["perfkit"]["format"] == name
