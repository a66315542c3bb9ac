"""nginx, Apache and JSON-lines logs, written the way those servers write them."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from perfkit import InputError, list_formats, read_access_log

# nginx escapes '"' and '\' and non-printable bytes as \xHH (escape=default).
NGINX_COMBINED = [
    '192.0.2.10 - - [10/Oct/2024:13:55:36 +0200] "GET /api/orders/17?page=2 HTTP/1.1" 200 612 '
    '"https://wh.example.com/dashboard" "Mozilla/5.0 (X11; Linux x86_64)"',
    '2001:db8::1 - alice [10/Oct/2024:13:55:37 +0200] "POST /api/orders HTTP/2.0" 201 0 "-" '
    '"agent \\x22quoted\\x22"',
    '192.0.2.11 - - [10/Oct/2024:13:55:38 +0200] "\\x16\\x03\\x01\\x00" 400 150 "-" "-"',
]
NGINX_UPSTREAM_FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" rt=$request_time urt="$upstream_response_time"'
)
NGINX_UPSTREAM = [
    '192.0.2.10 - - [10/Oct/2024:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "ua" rt=0.031 urt="0.010, 0.020"',
    '192.0.2.10 - - [10/Oct/2024:13:55:37 +0000] "GET /b HTTP/1.1" 502 5 "-" "ua" rt=0.003 urt="-"',
    '192.0.2.10 - - [10/Oct/2024:13:55:38 +0000] "GET /c HTTP/1.1" 200 5 "-" "ua" rt=0.250 urt="0.100 : 0.140"',
]
APACHE_COMBINED_D = [
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
    '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)" 15321',
    '127.0.0.1 - - [10/Oct/2000:13:55:37 -0700] "GET /x HTTP/1.0" 304 - "-" "say \\"hi\\" \\\\o/" 99',
]


def write(tmp_path, lines, name="access.log"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_nginx_combined(tmp_path):
    df = read_access_log(write(tmp_path, NGINX_COMBINED), format="nginx")
    assert list(df["client"]) == ["192.0.2.10", "2001:db8::1", "192.0.2.11"]
    assert df["user_agent"].iloc[1] == 'agent "quoted"'
    assert df["query"].iloc[0] == "page=2"
    assert list(df["status"]) == [200, 201, 400]
    # a TLS handshake sent to the HTTP port: kept, with no method, its bytes unescaped
    assert pd.isna(df["method"].iloc[2]) and df["path"].iloc[2] == "\x16\x03\x01\x00"
    assert str(df["time"].dt.tz) == "UTC+02:00"
    assert df["time"].iloc[0] == pd.Timestamp("2024-10-10T11:55:36Z")


def test_nginx_custom_format_with_upstream_lists(tmp_path):
    df = read_access_log(write(tmp_path, NGINX_UPSTREAM), format=NGINX_UPSTREAM_FORMAT)
    assert list(df["duration_ms"]) == pytest.approx([31.0, 3.0, 250.0])
    assert df["upstream_ms"].iloc[0] == pytest.approx(30.0)  # 0.010 + 0.020 s
    assert pd.isna(df["upstream_ms"].iloc[1])  # '-': no upstream answered
    assert df["upstream_ms"].iloc[2] == pytest.approx(240.0)  # internal redirect ' : '


def test_nginx_iso8601_and_auto_upstream(tmp_path):
    fmt = '$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent $request_time'
    lines = [
        '10.0.0.1 [2024-03-31T01:59:59+01:00] "GET / HTTP/1.1" 200 1 0.001',
        '10.0.0.1 [2024-03-31T03:00:01+02:00] "GET / HTTP/1.1" 200 1 0.002',
    ]
    df = read_access_log(write(tmp_path, lines), format=fmt)
    # two offsets (a DST change): shown in UTC, instants exact
    assert str(df["time"].dt.tz) == "UTC"
    assert (df["time"].iloc[1] - df["time"].iloc[0]) == pd.Timedelta(seconds=2)
    df_local = read_access_log(write(tmp_path, lines), format=fmt, tz="Europe/Paris")
    assert str(df_local["time"].dt.tz) == "Europe/Paris"


def test_apache_combined_with_microseconds(tmp_path):
    df = read_access_log(
        write(tmp_path, APACHE_COMBINED_D),
        format='%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D',
    )
    assert df["duration_ms"].tolist() == pytest.approx([15.321, 0.099])
    assert df["user_agent"].iloc[1] == 'say "hi" \\o/'
    assert pd.isna(df["bytes"].iloc[1])
    assert df["time"].iloc[0] == pd.Timestamp("2000-10-10T20:55:36Z")


def test_apache_common_and_T_and_query_directive(tmp_path):
    common = write(
        tmp_path, ['127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326']
    )
    df = read_access_log(common, format="common")
    assert df["bytes"].iloc[0] == 2326 and df["duration_ms"].isna().all()
    with pytest.raises(InputError, match="has no time field"):
        read_access_log(common, format="%h %m %U%q %>s %T")
    fmt = "%h %t %m %U%q %>s %T"
    line = "1.2.3.4 [10/Oct/2000:13:55:36 -0700] GET /search?q=x 200 2"
    df = read_access_log(write(tmp_path, [line], "t2.log"), format=fmt)
    assert (df["path"].iloc[0], df["query"].iloc[0], df["duration_ms"].iloc[0]) == (
        "/search",
        "q=x",
        2000.0,
    )


def test_auto_detection_records_format(tmp_path):
    df = read_access_log(write(tmp_path, NGINX_COMBINED[:2]))
    assert df.attrs["perfkit"]["format"] == "combined"
    timed = [line + " 0.012" for line in NGINX_COMBINED[:2]]
    df = read_access_log(write(tmp_path, timed, "timed.log"))
    assert df.attrs["perfkit"]["format"] == "nginx_timed"
    assert df["duration_ms"].tolist() == pytest.approx([12.0, 12.0])


def test_json_lines_common_names_and_mapping(tmp_path):
    rows = [
        {
            "timestamp": "2024-10-10T13:55:36.250Z",
            "method": "GET",
            "path": "/api/stock/9",
            "status": 200,
            "duration_ms": 12.5,
            "remote_addr": "10.0.0.9",
        },
        {
            "timestamp": "2024-10-10T13:55:37Z",
            "method": "PUT",
            "path": "/api/stock/9",
            "status": "503",
            "duration_ms": 40,
            "remote_addr": "10.0.0.9",
        },
    ]
    path = write(tmp_path, [json.dumps(r) for r in rows] + ["{not json", ""], "app.jsonl")
    df = read_access_log(path, on_bad_lines="skip")
    assert df["status"].tolist() == [200, 503]
    assert df["duration_ms"].tolist() == [12.5, 40.0]
    assert df["time"].iloc[0] == pd.Timestamp("2024-10-10T13:55:36.250Z")
    account = df.attrs["perfkit"]
    assert (account["lines"], account["parsed"], account["rejected"]) == (4, 2, 2)
    assert {r["line"] for r in account["rejected_lines"]} == {3, 4}
    nested = [{"ts": 1728568536.5, "req": {"verb": "GET", "uri": "/x"}, "code": 200, "took_s": 0.5}]
    path = write(tmp_path, [json.dumps(r) for r in nested], "nested.jsonl")
    df = read_access_log(
        path,
        format={
            "time": "ts",
            "method": "req.verb",
            "path": "req.uri",
            "status": "code",
            "duration_s": "took_s",
        },
    )
    assert df["method"].iloc[0] == "GET" and df["path"].iloc[0] == "/x"
    assert df["duration_ms"].iloc[0] == 500.0
    assert df["time"].iloc[0] == pd.Timestamp(1728568536.5, unit="s", tz="UTC")


def test_list_formats_names_the_formats():
    formats = list_formats()
    assert {"gunicorn", "nginx", "combined", "common", "jsonl"} <= set(formats["name"])


def test_nginx_main_keeps_http_headers_as_columns(tmp_path):
    line = (
        '10.0.0.5 - - [10/Oct/2024:13:55:36 +0000] "GET /api/stock HTTP/1.1" 200 42 "-" '
        '"kube-probe/1.28" "203.0.113.7, 10.0.0.1"'
    )
    df = read_access_log(write(tmp_path, [line]), format="nginx_main")
    assert df["x_forwarded_for"].iloc[0] == "203.0.113.7, 10.0.0.1"
    custom = '$remote_addr [$time_local] "$request" $status $http_x_request_id ${request_length}'
    line = '10.0.0.5 [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 req-9 512'
    df = read_access_log(write(tmp_path, [line], "c.log"), format=custom)
    assert (df["x_request_id"].iloc[0], df["request_length"].iloc[0]) == ("req-9", "512")
