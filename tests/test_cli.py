"""The perfkit command: exit codes and messages."""

from __future__ import annotations

from perfkit.cli import main


def test_demo_exits_zero(capsys, tmp_path):
    assert main(["demo", "--out", str(tmp_path / "reports")]) == 0


def test_summary_prints_routes(tmp_path, capsys):
    log = tmp_path / "a.log"
    log.write_text(
        '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /orders/1 HTTP/1.1" 200 10 "-" "ua" 1500\n'
        '10.0.0.1 - - [10/Oct/2024:13:55:37 +0000] "GET /orders/2 HTTP/1.1" 500 10 "-" "ua" 2500\n'
    )
    assert main(["summary", str(log)]) == 0
    out = capsys.readouterr().out
    assert "/orders/{id}" in out and "0.5" in out  # half of the requests were 5xx


def test_bad_input_exits_two_with_the_file_named(tmp_path, capsys):
    assert main(["summary", str(tmp_path / "missing.log")]) == 2
    assert "missing.log: no such file" in capsys.readouterr().err
    assert main(["no-such-command"]) == 2
