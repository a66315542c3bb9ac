"""Redaction of credential-like values in query strings, URLs and free text."""

from __future__ import annotations

import pyarrow as pa
import pytest

from perfkit.io.redact import redact_query, redact_text, redact_urls


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("page=2&api_key=abc123", "page=2&api_key=REDACTED"),
        ("Access_Token=x.y.z&b=1", "Access_Token=REDACTED&b=1"),
        ("password=hunter2", "password=REDACTED"),
        ("sig=deadbeef&code=4242&pw=1", "sig=REDACTED&code=REDACTED&pw=REDACTED"),
        ("client_secret=s&refresh_token=r", "client_secret=REDACTED&refresh_token=REDACTED"),
        ("token=", "token="),  # nothing to hide
        ("page=2&sort=name", "page=2&sort=name"),
        ("signature_version=4", "signature_version=REDACTED"),
        (
            "codename=falcon&design=x",
            "codename=falcon&design=x",
        ),  # whole-key matches only for 'code'
    ],
)
def test_query_values(query, expected):
    assert redact_query(pa.array([query, None])).to_pylist() == [expected, None]


def test_urls_and_text():
    urls = pa.array(["https://u:p4ss@h.example/cb?session=s1&x=1#frag", "https://h.example/?q=1"])
    assert redact_urls(urls).to_pylist() == [
        "https://u:REDACTED@h.example/cb?session=REDACTED&x=1#frag",
        "https://h.example/?q=1",
    ]
    line = 'x "GET /a?apikey=K1&auth=A2 HTTP/1.1" postgresql://app:dbpass@db:5432/wh'
    assert (
        redact_text(line)
        == 'x "GET /a?apikey=REDACTED&auth=REDACTED HTTP/1.1" postgresql://app:REDACTED@db:5432/wh'
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("email=bob@example.com&page=2", "email=REDACTED&page=2"),
        ("page=2;to=d.galeev%40evadav.com", "page=2;to=REDACTED"),
        ("u=bob%2Bshop%40example.com", "u=REDACTED"),  # '+' encoded before the '@'
        ("q=hello&sort=name", "q=hello&sort=name"),  # no address: unchanged
        ("q=a%20b&n=40", "q=a%20b&n=40"),  # '%40' only as a whole escape, not '40'
    ],
)
def test_email_addresses_in_query_values_are_masked(query, expected):
    assert redact_query(pa.array([query])).to_pylist() == [expected]
