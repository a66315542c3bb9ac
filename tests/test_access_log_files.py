"""Files, compression, rotation, routes, redaction and bad input for read_access_log."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import warnings

import pandas as pd
import pytest

from perfkit import InputError, PerfkitWarning, read_access_log, rejected_frame
from perfkit.io.logformat import parse as parse_paths

LINE = '10.0.0.{i} - - [10/Oct/2024:13:{m:02d}:00 +0000] "GET {path} HTTP/1.1" {status} 10 "-" "ua" {us}'
FMT = "combined_us"


def lines(n, start_minute=0, path="/orders/{i}", status=200):
    return [
        LINE.format(
            i=i % 250, m=(start_minute + i) % 60, path=path.format(i=i), status=status, us=1000 + i
        )
        for i in range(n)
    ]


def write(path, rows, opener=open):
    with opener(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    "suffix,opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)]
)
def test_compressed_files_read_the_same(tmp_path, suffix, opener):
    rows = lines(50)
    plain = read_access_log(write(tmp_path / "a.log", rows), format=FMT)
    packed = read_access_log(write(tmp_path / f"a.log{suffix}", rows, opener), format=FMT)
    pd.testing.assert_frame_equal(plain.drop(columns="source"), packed.drop(columns="source"))


def test_rotated_set_is_read_in_time_order(tmp_path):
    write(tmp_path / "access.log.2.gz", lines(10, 0, "/oldest/{i}"), gzip.open)
    write(tmp_path / "access.log.1", lines(10, 10, "/older/{i}"))
    write(tmp_path / "access.log", lines(10, 20, "/live/{i}"))
    df = read_access_log(str(tmp_path / "access.log*"), format=FMT)
    assert list(df["route"].astype(str).unique()) == ["/oldest/{id}", "/older/{id}", "/live/{id}"]
    assert df["time"].is_monotonic_increasing
    assert [f["file"].rsplit("/", 1)[1] for f in df.attrs["perfkit"]["files"]] == [
        "access.log.2.gz",
        "access.log.1",
        "access.log",
    ]
    listed = read_access_log([tmp_path / "access.log", tmp_path / "access.log.1"], format=FMT)
    assert listed["path"].iloc[0].startswith("/older/")


def test_same_result_from_str_path_and_glob(tmp_path):
    path = write(tmp_path / "x.log", lines(5))
    a = read_access_log(str(path), format=FMT)
    b = read_access_log(path, format=FMT)
    c = read_access_log(str(tmp_path / "*.log"), format=FMT)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


def test_missing_empty_binary_and_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_access_log(tmp_path / "nope.log")
    with pytest.raises(InputError, match="matches no file"):
        read_access_log(str(tmp_path / "*.nothing"))
    (tmp_path / "empty.log").write_text("")
    with pytest.raises(InputError, match=r"empty\.log: empty"):
        read_access_log(tmp_path / "empty.log")
    (tmp_path / "bin.log").write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(InputError, match="binary"):
        read_access_log(tmp_path / "bin.log")
    (tmp_path / "gz.log").write_bytes(gzip.compress(b"hello\n"))
    with pytest.raises(InputError, match="binary"):  # gzip data under a plain name
        read_access_log(tmp_path / "gz.log")
    locked = write(tmp_path / "locked.log", lines(1))
    locked.chmod(0)
    if os.geteuid() != 0:
        with pytest.raises(InputError, match=r"locked\.log: cannot be read"):
            read_access_log(locked)
    else:  # root reads anything: fork, become 'nobody', and try there
        assert "locked.log: cannot be read (Permission denied)" in _as_nobody(locked)


def _as_nobody(path) -> str:
    """The InputError message read_access_log(path) gives to an unprivileged user."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, try, report, exit without cleanup
        os.close(reader)
        message = "no error"
        try:
            os.setgid(65534)
            os.setuid(65534)
            read_access_log(path)
        except InputError as exc:
            message = str(exc)
        except BaseException as exc:  # report anything else too
            message = f"{type(exc).__name__}: {exc}"
        os.write(writer, message.encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        message = pipe.read()
    os.waitpid(pid, 0)
    return message


def test_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path):
    data = gzip.compress(("\n".join(lines(20000)) + "\n").encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.warns(PerfkitWarning, match="truncated"):
        df = read_access_log(path, format=FMT)
    assert 0 < len(df) < 20000
    assert df.attrs["perfkit"]["parsed"] == len(df)
    assert any("truncated" in note for note in df.attrs["perfkit"]["notes"])
    with pytest.raises(InputError, match=r"cut\.log\.gz.*truncated"):
        read_access_log(path, format=FMT, on_bad_lines="error")


def test_bad_lines_are_counted_kept_and_explained(tmp_path):
    rows = lines(10)
    rows[3] = "garbage line"
    rows[6] = rows[6].replace(" 200 ", " 2x0 ")
    path = write(tmp_path / "bad.log", rows)
    with pytest.warns(PerfkitWarning, match=r"2 of 10 lines were rejected; first at .*bad.log:4"):
        df = read_access_log(path, format=FMT)
    account = df.attrs["perfkit"]
    assert (account["lines"], account["parsed"], account["rejected"]) == (10, 8, 2)
    rejected = rejected_frame(df)
    assert rejected["line"].tolist() == [4, 7]
    assert rejected["text"].iloc[0] == "garbage line"
    assert "expected a client address" not in rejected["reason"].iloc[0]
    assert "at column" in rejected["reason"].iloc[1] and "HTTP status" in rejected["reason"].iloc[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = read_access_log(path, format=FMT, on_bad_lines="skip")
    assert quiet.attrs["perfkit"]["rejected"] == 2
    with pytest.raises(
        InputError, match=r"bad.log:4: does not match the combined_us format.*expected"
    ):
        read_access_log(path, format=FMT, on_bad_lines="error")


def test_fast_and_exact_paths_agree(tmp_path, monkeypatch):
    path = write(
        tmp_path / "a.log", [*lines(300), LINE.format(i=1, m=1, path="/x", status=500, us=5)]
    )
    fast = read_access_log(path, format=FMT)
    monkeypatch.setattr(parse_paths, "tokenize", lambda *a, **k: None)
    import perfkit.io.access_log as access_log

    monkeypatch.setattr(access_log, "tokenize", lambda *a, **k: None)
    exact = read_access_log(path, format=FMT)
    pd.testing.assert_frame_equal(fast, exact)


def test_routes_from_flask_app_rules_and_heuristic(tmp_path):
    import flask

    app = flask.Flask("wh")

    @app.get("/orders/<int:order_id>")
    def order(order_id):  # pragma: no cover - never called
        return ""

    @app.get("/orders/export")
    def export():  # pragma: no cover
        return ""

    @app.get("/files/<path:name>")
    def files(name):  # pragma: no cover
        return ""

    paths = [
        "/orders/12",
        "/orders/export",
        "/files/a/b.txt",
        "/wp-login.php",
        "/shipments/3f2b8c1e-4c7a-4b8e-9a7e-2f1d5c9b7a11",
        "/assets/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08/app.js",
        "/reset/Zx81kLq0PzTt7sNw3yUe9aQ",
        "/api/stock/SKU-001173",
        "/video/h2/intro",
    ]
    rows = [LINE.format(i=1, m=i, path=p, status=200, us=10) for i, p in enumerate(paths)]
    path = write(tmp_path / "r.log", rows)
    df = read_access_log(path, format=FMT, routes=app, unmatched="label")
    assert df["route"].astype(str).tolist()[:4] == [
        "/orders/<int:order_id>",
        "/orders/export",
        "/files/<path:name>",
        "(unmatched)",
    ]
    # by default the paths no rule matches get inferred routes, not one lump
    inferred = read_access_log(path, format=FMT, routes=app)["route"].astype(str).tolist()
    assert inferred[3:5] == ["/wp-login.php", "/shipments/{uuid}"]
    routes = df.attrs["perfkit"]["routes"]
    assert routes["unmatched"] == 6 and routes["unmatched_share"] == pytest.approx(6 / 9)
    assert ["/wp-login.php", 1] in routes["top_unmatched"]
    as_strings = read_access_log(path, format=FMT, routes=["/orders/<int:order_id>"])
    assert as_strings["route"].iloc[0] == "/orders/<int:order_id>"
    guessed = read_access_log(path, format=FMT)["route"].astype(str).tolist()
    assert guessed == [
        "/orders/{id}",
        "/orders/export",
        "/files/a/b.txt",
        "/wp-login.php",
        "/shipments/{uuid}",
        "/assets/{hash}/app.js",
        "/reset/{token}",
        "/api/stock/{code}",
        "/video/h2/intro",
    ]


def test_secrets_are_redacted_on_load(tmp_path):
    rows = [
        LINE.format(
            i=1,
            m=1,
            path="/api/ship?api_key=SEKRET1&order=5&Access_Token=SEKRET2",
            status=200,
            us=1,
        ).replace('"-"', '"https://u:SEKRET3@wh.example.com/cb?session=SEKRET4&x=1"'),
        'broken "GET /x?password=SEKRET5 HTTP/1.1" line',
    ]
    df = read_access_log(write(tmp_path / "s.log", rows), format=FMT, on_bad_lines="skip")
    assert df["query"].iloc[0] == "api_key=REDACTED&order=5&Access_Token=REDACTED"
    assert df["referrer"].iloc[0] == "https://u:REDACTED@wh.example.com/cb?session=REDACTED&x=1"
    text = df.to_json(date_format="iso") + str(df.attrs)
    for n in range(1, 6):
        assert f"SEKRET{n}" not in text
