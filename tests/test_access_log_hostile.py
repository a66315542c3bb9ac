"""Property tests: random and hostile lines never crash the loader and are all accounted for."""

from __future__ import annotations

import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfkit import read_access_log

GOOD = '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /orders/1 HTTP/1.1" 200 10 "-" "ua" 1500'
HOSTILE = [
    '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /<script>alert(1)</script> HTTP/1.1" 200 1 "-" "ua" 1',
    '2001:db8::7 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "a \\"quoted\\" agent" 1',
    '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /'
    + "a" * 100_000
    + ' HTTP/1.1" 200 1 "-" "ua" 1',
    '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /\xff\xfe HTTP/1.1" 200 1 "-" "ua" 1',
    '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 99999999999999999999999 "-" "ua" 1',
    '10.0.0.1 - - [99/Foo/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" 1',
    '"unbalanced quote',
    "",
    "   ",
    "\t\x0b\x0c",
]
text_lines = st.one_of(
    st.sampled_from(HOSTILE),
    st.just(GOOD),
    st.text(
        alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)),
        max_size=300,
    ),
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ").decode("latin-1")),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(text_lines, min_size=1, max_size=40), raw_bytes=st.booleans())
def test_any_lines_are_accounted_for(tmp_path_factory, rows, raw_bytes):
    path = tmp_path_factory.mktemp("h") / "access.log"
    body = "\n".join([GOOD, *rows]) + "\n"
    path.write_bytes(
        body.encode("latin-1", errors="replace") if raw_bytes else body.encode("utf-8")
    )
    n_lines = path.read_bytes().count(b"\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_access_log(path, format="combined_us", on_bad_lines="skip")
    account = df.attrs["perfkit"]
    assert account["lines"] == n_lines
    assert account["parsed"] + account["rejected"] == account["lines"]
    assert account["parsed"] == len(df)
    assert len(df) >= 1 + sum(r == GOOD for r in rows)
    kept = account["rejected_lines"]
    assert len(kept) == min(account["rejected"], 1000)
    assert all(1 <= r["line"] <= n_lines and r["reason"] for r in kept)
