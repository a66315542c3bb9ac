"""Secrets stay out of perfkit's frames, stores, messages and reports (issue 14, causes 1-4, 11).

Truth comes from a real PostgreSQL 15 (the `pg` fixture): what pg_stat_statements keeps verbatim,
what a role without pg_monitor is shown, what libpq makes of a connection string.
"""

from __future__ import annotations

import gzip
import traceback
import warnings

import pandas as pd
import psycopg
import pyarrow as pa
import pytest
from psycopg.conninfo import conninfo_to_dict

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io.redact import (
    MASK,
    dsn_has_password,
    redact_dsn,
    redact_sql,
    redact_sql_text,
    redact_urls,
)

# --- cause 1: password literals in statement texts ----------------------------------------------

# (statement text, the secret it holds)
SQL_SECRETS = [
    ("ALTER ROLE app PASSWORD 'hunter2'", "hunter2"),
    ("alter user app with password 'it''s-a-secret' valid until 'infinity'", "it''s-a-secret"),
    ("ALTER USER app PASSWORD E'e\\'sc\\'aped'", "sc\\'aped"),
    ("create role r login encrypted password 'md5deadbeefcafe'", "md5deadbeefcafe"),
    ("CREATE USER u WITH\n\tLOGIN\n\tPASSWORD\n'newline-pw'", "newline-pw"),
    ("alter role r password $$dollar-pw$$", "dollar-pw"),
    ("alter role r password $pw$tag$$ged-pw$pw$", "ged-pw"),
    ("ALTER ROLE r PASSWORD /* why */ 'commented-pw'", "commented-pw"),
    ("alter role r password 'con'\n'tinued-pw'", "tinued-pw"),
    ("ALTER ROLE r PASSWORD U&'uni\\0063ode-pw'", "ode-pw"),
    ("create user mapping for app server s options (user 'u', password 'map-pw')", "map-pw"),
    ("ALTER USER MAPPING FOR app SERVER s OPTIONS (ADD password 'add-pw')", "add-pw"),
    ("alter user mapping for app server s options (set password 'set-pw', drop user)", "set-pw"),
    ("CREATE SERVER s FOREIGN DATA WRAPPER mysql_fdw OPTIONS (host 'h', password 'srv-pw')",
     "srv-pw"),
    ("create server s foreign data wrapper w options (sslpassword 'ssl-pw')", "ssl-pw"),
    ("select dblink_connect('host=db password=dblink-pw dbname=x')", "dblink-pw"),
    ("select dblink_connect('c', 'host=db password=''quoted pw'' dbname=x')", "quoted pw"),
    ("select dblink('postgresql://u:url-pw@db/x', 'select 1')", "url-pw"),
    ("select dblink('postgresql://:nouser-pw@db/x', 'select 1')", "nouser-pw"),
    ("select dblink('postgresql://u:at@sign-pw@db/x', 'select 1')", "sign-pw"),
    ("select dblink('postgresql://db/x?password=query-pw', 'select 1')", "query-pw"),
    ("CREATE SUBSCRIPTION s CONNECTION 'host=p password=sub-pw' PUBLICATION p", "sub-pw"),
    ("do $$ begin execute 'alter role r password ''nested-pw'''; end $$", "nested-pw"),
    ("DO $body$ BEGIN PERFORM dblink_connect('password=plpgsql-pw'); END $body$", "plpgsql-pw"),
    ("alter role r password 'truncated-pw", "truncated-pw"),  # track_activity_query_size
    ("SET app.api_token = 'guc-token'", "guc-token"),
]  # fmt: skip
# statements that only mention a sensitive word: byte for byte unchanged
SQL_INNOCENT = [
    "select password_hash from users where id = $1",
    "update users set password_hash = $1, token_expires = now() where id = $2",
    "select 1 -- reset the password 'tomorrow'",
    "select /* password 'x' */ 1",
    'select "password" from t where "token" = $1',
    "alter role r password null",
    "SELECT $1::text AS secret_santa FROM gifts WHERE year = $2",
    "create table t (password text, api_key text default '')",
    "select 'postgresql://db/x' as url",
]


@pytest.mark.parametrize(("text", "secret"), SQL_SECRETS)
def test_sql_password_literals_are_masked(text, secret):
    shown = redact_sql_text(text)
    assert secret not in shown
    assert MASK in shown
    assert redact_sql(pa.array([text])).to_pylist() == [shown]


@pytest.mark.parametrize("text", SQL_INNOCENT)
def test_sql_without_secrets_is_unchanged(text):
    assert redact_sql_text(text) == text
    assert redact_sql(pa.array([text])).to_pylist() == [text]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("DO $$BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', 'app', 'SECRETVAL123'); END$$",
         "DO $$BEGIN EXECUTE format('REDACTED', 'REDACTED', 'REDACTED'); END$$"),
        ("select 'ALTER ROLE app PASSWORD ' || quote_literal('SECRETVAL123')",
         "select 'REDACTED' || quote_literal('REDACTED')"),
        ("COMMENT ON ROLE app IS 'old password was SECRETVAL123'",
         "COMMENT ON ROLE app IS 'REDACTED'"),
        ("INSERT INTO users(name, password) VALUES ('bob','SECRETVAL123')",
         "INSERT INTO users(name, password) VALUES ('REDACTED','REDACTED')"),
        ("select 'my secret is SECRETVAL123' as x", "select 'REDACTED' as x"),
        # a literal naming a password is masked whole: it may be the secret itself
        ("select 'password' as label", "select 'REDACTED' as label"),
        # a new statement starts afresh; literals before the word stay
        ("insert into t (password) values ('SECRETVAL123'); select 'a'",
         "insert into t (password) values ('REDACTED'); select 'a'"),
        ("select * from t where name = 'x' and password_hash = $1",
         "select * from t where name = 'x' and password_hash = $1"),
    ],
)  # fmt: skip
def test_sql_literals_after_the_word_password_are_masked(text, shown):
    assert redact_sql_text(text) == shown
    assert redact_sql(pa.array([text])).to_pylist() == [shown]


def test_sql_masks_exactly_the_literal():
    assert redact_sql_text("ALTER ROLE app WITH LOGIN PASSWORD 'x' VALID UNTIL '2030-01-01'") == (
        "ALTER ROLE app WITH LOGIN PASSWORD 'REDACTED' VALID UNTIL '2030-01-01'"
    )
    assert redact_sql_text(
        "create user mapping for a server s options (user 'bob', password 'p')"
    ) == ("create user mapping for a server s options (user 'bob', password 'REDACTED')")
    assert redact_sql_text("select dblink_connect('host=h password=p dbname=d')") == (
        "select dblink_connect('host=h password=REDACTED dbname=d')"
    )


def test_redact_sql_is_columnar_and_keeps_order():
    texts = ["select 1", None, "alter role a password 'p1'", "select 1",
             "alter role a password 'p1'", "alter role b password 'p2'"]  # fmt: skip
    chunked = pa.chunked_array([texts[:3], texts[3:]])
    assert redact_sql(chunked).to_pylist() == [
        "select 1", None, "alter role a password 'REDACTED'", "select 1",
        "alter role a password 'REDACTED'", "alter role b password 'REDACTED'",
    ]  # fmt: skip
    assert redact_sql(pa.array([], pa.string())).to_pylist() == []
    large = redact_sql(pa.array(texts, pa.large_string()))
    assert large.type == pa.large_string() and large.to_pylist()[2] == texts[2].replace(
        "'p1'", "'REDACTED'"
    )
    assert redact_sql(pa.nulls(2)).null_count == 2


SERVER_SECRETS = {
    "ALTER ROLE app PASSWORD 'hunter2-live'": "hunter2-live",
    "create role app2 login encrypted password E'it\\'s-live'": "s-live",
    "create user mapping for app server s options (user 'u', password 'mapping-live')":
        "mapping-live",
}  # fmt: skip


@pytest.fixture(scope="module")
def leaky(pg):
    """A server whose pg_stat_statements holds utility statements with passwords."""
    pg.psql("create extension if not exists postgres_fdw")
    pg.psql("drop user mapping if exists for app server s")
    pg.psql("drop server if exists s")
    pg.psql("drop role if exists app")
    pg.psql("drop role if exists app2")
    pg.psql("create role app login")
    pg.psql("create server s foreign data wrapper postgres_fdw options (host 'h')")
    for statement in SERVER_SECRETS:
        pg.psql(statement)
    return pg


def test_pg_stat_statements_keeps_utility_passwords_verbatim(leaky):
    """The truth the redaction is for: PostgreSQL does not normalise these literals."""
    texts = leaky.psql("select query from pg_stat_statements")
    for statement in SERVER_SECRETS:
        assert statement in texts
    # and what perfkit's redaction makes of the texts the server really holds
    real = pa.array(texts.splitlines())
    shown = "\n".join(redact_sql(real).to_pylist())
    assert not any(secret in shown for secret in SERVER_SECRETS.values())
    assert shown.count(MASK) >= len(SERVER_SECRETS)


def test_psql_csv_exports_are_redacted_on_read(leaky, tmp_path):
    from perfkit.io.pg_csv import read_exports

    export = leaky.psql(
        "copy (select now() as snapshot_time, * from pg_stat_statements) to stdout csv header"
    )
    assert "hunter2-live" in export  # the export itself holds it
    path = tmp_path / "statements-20240101T120000Z.csv.gz"
    path.write_bytes(gzip.compress(export.encode()))
    frame = read_exports([path], "statements")
    texts = "\n".join(frame["query"].astype(str))
    assert not any(secret in texts for secret in SERVER_SECRETS.values())
    assert "ALTER ROLE app PASSWORD 'REDACTED'" in texts
    assert len(frame) == export.count("\n") - 1 or len(frame) > 0


def test_live_read_and_store_hold_no_password(leaky, tmp_path):
    """The live read and the snapshot store (pg_stat.py calls `redact_sql`)."""
    from perfkit.io.pg import read_pg_stat, snapshot_pg

    live = read_pg_stat(leaky.dsn(), "statements")
    texts = "\n".join(live["query"].astype(str))
    assert "ALTER ROLE app PASSWORD 'REDACTED'" in texts
    assert not any(secret in texts for secret in SERVER_SECRETS.values())
    store = tmp_path / "store"
    snapshot_pg(leaky.dsn(), store, views=("statements", "activity"))
    snapshot_pg(leaky.dsn(), store, views=("statements", "activity"))
    stored = b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())
    for secret in SERVER_SECRETS.values():
        assert secret.encode() not in stored
    again = "\n".join(read_pg_stat(store, "statements")["query"].astype(str))
    assert "ALTER ROLE app PASSWORD 'REDACTED'" in again


# --- cause 2: DSNs ------------------------------------------------------------------------------

# (DSN, the secret, what must still be shown)
DSNS = [
    ("postgresql://app:s3cret@db.example:5432/shop", "s3cret", "db.example"),
    ("postgresql://:emptyuser@db/shop", "emptyuser", "db"),
    ("postgresql://u:p@ss@db/shop", "p@ss", "db"),
    ("postgresql://u:p@s:s@db/shop", "p@s:s", "db"),
    ("postgresql://u:p%40ss%20w@db/shop", "p@ss w", "db"),
    ("postgresql://u:p%40ss%20w@db/shop", "p%40ss", "db"),
    ("postgres://db/shop?password=querypw&sslmode=require", "querypw", "require"),
    ("postgres://u:pw1@[::1]:5433/shop?sslpassword=keypw", "keypw", "5433"),
    ("host=db password='a b\\' c' dbname=shop", "a b", "shop"),
    ("host=db password=plain dbname=shop", "plain", "shop"),
    ("host=db PASSWORD = spaced dbname=shop", "spaced", "db"),  # not libpq's: pattern fallback
    ("host=db password=two words", "words", "db"),  # libpq: missing "=" after "words"
    ("host=db password=a\\ b extra", " b extra", "db"),
    ("host=db password='open quote x", "open quote", "db"),
    ("postgresql://u:pw3@db/shop?bogus=QUERYSECRET", "QUERYSECRET", "db"),
    ("host=db bogus=KVSECRET dbname=shop", "KVSECRET", "db"),
    ("host=db pasword=typo-pw dbname=shop", "typo-pw", "db"),  # a typo libpq rejects
    ("host=db port=5432 password", "", "db"),
    ("postgresql://u:pw2@db:notaport/shop", "pw2", "db"),
]


@pytest.mark.parametrize(("dsn", "secret", "kept"), DSNS)
def test_redact_dsn_hides_the_password(dsn, secret, kept):
    shown = redact_dsn(dsn)
    if secret:
        assert secret not in shown
        assert dsn_has_password(dsn)
    assert kept in shown


@pytest.mark.parametrize(
    "dsn", ["host=db dbname=shop user=app", "postgresql://app@db/shop", "", "service=prod"]
)
def test_dsn_without_password(dsn):
    assert not dsn_has_password(dsn)
    assert conninfo_to_dict(redact_dsn(dsn)) == conninfo_to_dict(dsn)  # nothing lost


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://app:Sup3rSecret/Pw@127.0.0.1/db",
        "postgres://app:a/b@c/SECRETVAL123@127.0.0.1:5432/db?sslmode=require",
        "postgresql://:Sup3rSecret/Pw@db/shop",
    ],
)
def test_dsn_url_password_with_a_slash(dsn):
    # libpq stops the userinfo at the first '/': 'Sup3rSecret' would be read as the port
    shown = redact_dsn(dsn)
    assert "Sup3rSecret" not in shown and "SECRETVAL123" not in shown and "Pw" not in shown
    assert MASK in shown and "app" not in shown.replace("user=app", "")
    assert dsn_has_password(dsn)


def test_libpq_message_about_a_url_password_with_a_slash_is_scrubbed():
    from perfkit.io.redact import scrub_dsn_secrets

    dsn = "postgresql://app:Sup3rSecret/Pw@127.0.0.1/db"
    message = 'invalid integer value "Sup3rSecret" for connection option "port"'
    assert "Sup3rSecret" not in scrub_dsn_secrets(message, dsn)


def test_redacted_dsn_is_still_what_libpq_reads_minus_the_password():
    dsn = "postgresql://app:pw@db.example:6432/shop?sslmode=require&application_name=x"
    shown = conninfo_to_dict(redact_dsn(dsn))
    assert shown == {**conninfo_to_dict(dsn), "password": MASK}


def test_connect_error_does_not_show_the_password(pg):
    from perfkit.io.pg_stat import connect

    for dsn in (f"postgresql://:conn-pw@127.0.0.1:{pg.port}/nosuchdb",
                f"postgresql://u:conn@pw@127.0.0.1:{pg.port}/nosuchdb"):  # fmt: skip
        with pytest.raises(InputError) as caught:
            connect(dsn)
        # the whole traceback a notebook would show, chained causes included
        shown = "".join(traceback.format_exception(caught.value))
        assert "conn-pw" not in shown and "conn@pw" not in shown and "pw@127" not in shown


# --- cause 11: statements hidden from a role without pg_monitor ---------------------------------


def test_hidden_statements_are_counted(pg):
    from perfkit.analysis.pg_deltas import pg_deltas
    from perfkit.io.pg import read_pg_stat

    pg.psql(
        "do $$ begin if not exists (select from pg_roles where rolname = 'nomon') then "
        "create role nomon login; end if; if not exists (select from pg_roles where rolname = "
        "'worker') then create role worker login; end if; end $$"
    )
    pg.psql("drop table if exists hidden_t; create table hidden_t (x int); "
            "grant all on hidden_t to worker")  # fmt: skip
    pg.psql("select pg_stat_statements_reset()")
    first = read_pg_stat(pg.dsn(user="nomon"), "statements")
    with psycopg.connect(pg.dsn(user="worker"), autocommit=True) as conn:
        for i in range(7):
            conn.execute("select count(*) from hidden_t where x = %s", (i,))
        for i in range(3):
            conn.execute("insert into hidden_t values (%s)", (i,))
        conn.execute("update hidden_t set x = x + 1")
    second = read_pg_stat(pg.dsn(user="nomon"), "statements")
    snapshots = pd.concat([first, second], ignore_index=True)
    assert snapshots["queryid"].isna().any()  # what the unprivileged role is shown
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deltas = pg_deltas(snapshots)
    hidden = deltas.attrs["perfkit"]["hidden"]
    # truth: what the superuser sees of every role but nomon, read after the second snapshot
    truth = (
        pg.psql(
            "select count(*), sum(calls), sum(total_exec_time) from pg_stat_statements "
            "where userid <> 'nomon'::regrole"
        )
        .strip()
        .split("|")
    )
    worker = pg.psql(
        "select sum(calls) from pg_stat_statements where userid = 'worker'::regrole"
    ).strip()
    assert hidden["statements"] == int(truth[0])
    assert int(worker) == 11
    # calls hidden in the window: the worker's 11 (the reset and psql's reads came before)
    assert hidden["calls"] == 11
    assert hidden["total_exec_time"] > 0
    assert hidden["roles"] >= 1
    assert "worker" not in set(deltas["query"])
    assert any(issubclass(w.category, PerfkitWarning) and "hidden" in str(w.message)
               for w in caught)  # fmt: skip


def test_nothing_hidden_for_a_monitoring_role(pg):
    from perfkit.analysis.pg_deltas import pg_deltas
    from perfkit.io.pg import read_pg_stat

    first = read_pg_stat(pg.dsn(), "statements")
    pg.psql("select 1")
    second = read_pg_stat(pg.dsn(), "statements")
    deltas = pg_deltas(pd.concat([first, second], ignore_index=True))
    assert deltas.attrs["perfkit"]["hidden"] == {
        "statements": 0, "calls": 0, "total_exec_time": 0.0, "roles": 0
    }  # fmt: skip


# --- cause 3: access logs -----------------------------------------------------------------------

HEADERS = {
    "x-auth-token": "HDR-TOKEN-1",
    "api-key": "HDR-APIKEY-2",
    "authorization": "Bearer HDR-BEARER-3",
    "cookie": "sid=HDR-COOKIE-4",
    "x-csrf-token": "HDR-CSRF-5",
    "x-forwarded-for": "10.9.8.7",  # not a secret: kept
}
GUNICORN = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s '
    + " ".join(f'"%({{{name}}}i)s"' for name in HEADERS)
    + ' "%({set-cookie}o)s"'
)


def _no_secret(frame, *secrets):
    """No secret anywhere in the frame, its parse account or its rejected samples."""
    import json

    import perfkit

    shown = frame.astype(str).to_csv() + json.dumps(perfkit.parse_account(frame), default=str)
    leaked = [s for s in secrets if s in shown]
    assert not leaked, leaked
    return shown


def test_gunicorn_headers_and_semicolon_queries(gunicorn_log):
    import perfkit

    writer = gunicorn_log(GUNICORN)
    writer.request(path="/a", query="page=2;token=QS-SEMI-6&b=1", headers=HEADERS,
                   referer="https://app.example/cb?x=1;access_token=REF-SEMI-7")  # fmt: skip
    writer.request(path="/b", query="a=1;api_key=QS-SEMI-8;sig=QS-SEMI-9", headers=HEADERS)
    writer.close()
    frame = perfkit.read_access_log(writer.path, format=GUNICORN)
    secrets = [v.split()[-1].split("=")[-1] for k, v in HEADERS.items() if k != "x-forwarded-for"]
    _no_secret(frame, *secrets, "QS-SEMI-6", "REF-SEMI-7", "QS-SEMI-8", "QS-SEMI-9")
    assert frame["query"].tolist() == ["page=2;token=REDACTED&b=1",
                                       "a=1;api_key=REDACTED;sig=REDACTED"]  # fmt: skip
    assert set(frame["x_auth_token"]) == {"REDACTED"} and set(frame["api_key"]) == {"REDACTED"}
    assert frame["x_forwarded_for"].tolist() == ["10.9.8.7", "10.9.8.7"]
    assert frame["referrer"].iloc[0] == "https://app.example/cb?x=1;access_token=REDACTED"
    assert redact_urls(pa.array(["https://a/cb#id_token=REF-FRAG-10&x=1"])).to_pylist() == [
        "https://a/cb#id_token=REDACTED&x=1"
    ]


def test_path_parameters_and_absolute_targets_are_redacted(gunicorn_log):
    import perfkit

    writer = gunicorn_log()
    writer.request(path="/app;jsessionid=SECRETVAL123", query="a=1")
    writer.request(path="/app;v=2/x;token=SECRETVAL456/y")
    writer.request(path="http://u:SECRETVAL789@host/api/x")
    writer.close()
    frame = perfkit.read_access_log(writer.path)
    _no_secret(frame, "SECRETVAL123", "SECRETVAL456", "SECRETVAL789")
    assert frame["path"].tolist() == [
        "/app;jsessionid=REDACTED", "/app;v=2/x;token=REDACTED/y", "http://u:REDACTED@host/api/x"
    ]  # fmt: skip
    assert frame["query"].tolist()[0] == "a=1"


def test_apache_and_nginx_captured_headers_and_cookies(tmp_path):
    import perfkit

    apache = '%h %l %u %t "%r" %>s %b %D "%{api-key}i" "%{X-Session-Id}i" "%{sid}C" "%{Host}i"'
    (tmp_path / "apache.log").write_text(
        '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET /a?x=1;password=AP-QS-1 HTTP/1.1" 200 5 '
        '1200 "AP-KEY-2" "AP-SESS-3" "AP-COOKIE-4" "shop.example"\n'
    )
    frame = perfkit.read_access_log(tmp_path / "apache.log", format=apache)
    _no_secret(frame, "AP-QS-1", "AP-KEY-2", "AP-SESS-3", "AP-COOKIE-4")
    assert frame["host"].tolist() == ["shop.example"]
    nginx = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
             '"$http_x_auth_token" "$cookie_sid" "$arg_token" "$arg_page" "$http_authorization"')  # fmt: skip
    (tmp_path / "nginx.log").write_text(
        '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET /a?page=3&token=NG-QS-1 HTTP/1.1" 200 5 '
        '"NG-HDR-2" "NG-COOKIE-3" "NG-QS-1" "3" "Basic TkctQkFTSUMtNA=="\n'
    )
    frame = perfkit.read_access_log(tmp_path / "nginx.log", format=nginx)
    _no_secret(frame, "NG-QS-1", "NG-HDR-2", "NG-COOKIE-3", "TkctQkFTSUMtNA==")
    assert frame["arg_page"].astype(str).tolist() == ["3"]


def test_rejected_lines_keep_no_credentials(tmp_path, gunicorn_log):
    import json

    import perfkit

    good = {"time": "2024-01-01T00:00:00Z", "method": "GET", "path": "/a", "status": 200,
            "duration_ms": 3.0}  # fmt: skip
    broken = ('{"time": "2024-01-01T00:00:01Z", "authorization": "Bearer RJ-BEARER-1", '
              '"token": "RJ-TOKEN-2", "password": 123456789, "path": "/b", "status": 2')  # fmt: skip
    typed = json.dumps({**good, "status": "x", "Authorization": "Basic UkotQkFTSUM=",
                        "api_key": "RJ-KEY-4", "session": {"id": 1}})  # fmt: skip
    (tmp_path / "a.jsonl").write_text("\n".join([json.dumps(good)] * 3 + [broken, typed]) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfkitWarning)
        frame = perfkit.read_access_log(tmp_path / "a.jsonl")
    _no_secret(frame, "RJ-BEARER-1", "RJ-TOKEN-2", "123456789", "UkotQkFTSUM=",
                       "RJ-KEY-4")  # fmt: skip
    account = perfkit.parse_account(frame)
    assert account["rejected"] == 2 and '"path": "/b"' in account["rejected_lines"][0]["text"]
    writer = gunicorn_log()
    writer.request(path="/ok")
    writer.close()
    with open(writer.path, "a") as log:
        log.write("junk Authorization: Bearer RJ-BEARER-5 X-Api-Key: RJ-KEY-6 "
                  "https://u:RJ-PW-7@h/?x=1;token=RJ-TOKEN-8\n")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfkitWarning)
        frame = perfkit.read_access_log(writer.path)
    text = perfkit.parse_account(frame)["rejected_lines"][0]["text"]
    assert all(s not in text for s in ("RJ-BEARER-5", "RJ-KEY-6", "RJ-PW-7", "RJ-TOKEN-8")), text
    assert text.startswith("junk Authorization: Bearer REDACTED")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"authorization": "Bearer abc.def", "n": 1}', '{"authorization": "REDACTED", "n": 1}'),
        ('{"password": 1234, "user": "bob"}', '{"password": REDACTED, "user": "bob"}'),
        ('{"token": null}', '{"token": null}'),
        ('{"Token": "a\\"b"}', '{"Token": "REDACTED"}'),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic REDACTED"),
        ("x-api-key=k1 other=2", "x-api-key=REDACTED other=2"),
        ("sent Bearer eyJhbGciOi.x.y to", "sent Bearer REDACTED to"),
        ("GET /a?x=1;session=s1 HTTP/1.1", "GET /a?x=1;session=REDACTED HTTP/1.1"),
        ("https://app/cb#access_token=f1&state=2", "https://app/cb#access_token=REDACTED&state=2"),
        (
            "postgresql://:pw@db/x and https://u:p@ss@h/",
            "postgresql://:REDACTED@db/x and https://u:REDACTED@h/",
        ),
        # compact JSON: an object value is not one bare value swallowing its first member
        ('{"path":"/a","headers":{"x-api-key":"SECRETVAL123"}}',
         '{"path":"/a","headers":{"x-api-key":"REDACTED"}}'),
        ('{"headers":{"authorization":"Token SECRETVAL123"}}',
         '{"headers":{"authorization":"REDACTED"}}'),
        ('{"a":[{"token":"SECRETVAL123"}]}', '{"a":[{"token":"REDACTED"}]}'),
        ("Authorization: Negotiate SECRETVAL123", "Authorization: Negotiate REDACTED"),
        ("Proxy-Authorization: NTLM SECRETVAL123, x", "Proxy-Authorization: NTLM REDACTED, x"),
        ("Cookie: a=1; sid=SECRETVAL123", "Cookie: REDACTED"),
        ("Set-Cookie: sid=SECRETVAL123; Path=/\nnext", "Set-Cookie: REDACTED\nnext"),
        # nothing sensitive: unchanged
        ('{"user_agent": "curl/8", "status": 200, "path": "/token/info"}', None),
        ('1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "Mozilla"', None),
        ("the basic plan; a bearer of news; Basic plans", None),
    ],
)
def test_redact_text(text, expected):
    from perfkit.io.redact import redact_text

    assert redact_text(text) == (text if expected is None else expected)


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [("x_auth_token", True), ("api_key", True), ("authorization", True), ("cookie", True),
     ("cookie_sid", True), ("response_set_cookie", True), ("sent_http_set_cookie", True),
     ("env_http_authorization", True), ("x_csrf_token", True), ("arg_token", True),
     ("x_api_key_2", True), ("proxy_authorization", True), ("request_body", True),
     ("x_forwarded_for", False), ("user_agent", False), ("host", False), ("arg_page", False),
     ("x_request_id", False), ("response_content_type", False), ("env_unique_id", False),
     ("upstream_cookie_sid", True), ("upstream_addr", False), ("upstream_status", False)],
)  # fmt: skip
def test_sensitive_columns(name, sensitive):
    from perfkit.io.access_log import COLUMNS
    from perfkit.io.redact import is_sensitive_column

    assert is_sensitive_column(name) is sensitive
    assert not any(is_sensitive_column(c) for c in COLUMNS)  # standard columns never masked


def test_rejection_reasons_and_warnings_keep_no_credentials(gunicorn_log):
    import perfkit

    writer = gunicorn_log()
    writer.request(path="/ok")
    writer.close()
    with open(writer.path, "a") as log:
        log.write('10.1.2.3 - - [05/Dec/2026:12:00:00 +0000] "GET /a HTTP/1.1" 200 x '
                  '"Bearer RN-BEARER-1"\n')  # fmt: skip
        log.write("junk Authorization: Bearer RN-BEARER-2\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = perfkit.read_access_log(writer.path)
    said = " ".join(str(w.message) for w in caught)
    shown = _no_secret(frame, "RN-BEARER-1", "RN-BEARER-2")
    assert "RN-BEARER" not in said and "RN-BEARER" not in shown


# --- cause 4: -p pg_dsn_env=NAME ----------------------------------------------------------------

CLOUD_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLANTED"


@pytest.mark.parametrize(
    ("value", "returned"),
    [(CLOUD_KEY, None), ("/root", None), ("PLANTED=yes", None), ("hunter2 PLANTED", None),
     ("host=db dbname=shop password=PLANTEDpw", "host=db dbname=shop password=PLANTEDpw"),
     ("postgresql://u:PLANTEDpw@db/shop", "postgresql://u:PLANTEDpw@db/shop"), ("", "unset")],
)  # fmt: skip
def test_dsn_from_env_reads_only_a_dsn_and_never_echoes(monkeypatch, value, returned):
    from perfkit.report.overview import dsn_from_env

    monkeypatch.setenv("PERFKIT_TEST_VAR", value)
    if returned is None:
        with pytest.raises(InputError) as caught:
            dsn_from_env("PERFKIT_TEST_VAR")
        assert "PERFKIT_TEST_VAR" in str(caught.value)
        assert "PLANTED" not in str(caught.value) and value not in str(caught.value)
        assert caught.value.__cause__ is None  # libpq's message (it quotes the value) not chained
        assert caught.value.__context__ is None or caught.value.__suppress_context__
    elif returned == "unset":
        assert dsn_from_env("PERFKIT_TEST_VAR") is None
    else:
        assert dsn_from_env("PERFKIT_TEST_VAR") == returned
    monkeypatch.delenv("PERFKIT_TEST_VAR")
    assert dsn_from_env("PERFKIT_TEST_VAR") is None and dsn_from_env("") is None
    with pytest.raises(InputError, match="name of an environment variable"):
        dsn_from_env("$(id)")


def _kept(tmp_path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in tmp_path.rglob("*")
                     if p.is_file() and p.suffix in (".ipynb", ".html", ".json"))  # fmt: skip


def test_notebook_never_shows_another_variable(tmp_path, monkeypatch):
    from perfkit.report.run import ReportFailed, run_report
    from tests.test_reports import write_run

    run = write_run(tmp_path / "run", 800, seed=7)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CLOUD_KEY)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ReportFailed) as caught:  # the notebook raised InputError
        run_report("overview", {"run": str(run), "pg_dsn_env": "AWS_SECRET_ACCESS_KEY"},
                   out / "o.html", keep_notebook=True)  # fmt: skip
    assert "AWS_SECRET_ACCESS_KEY" in str(caught.value) and caught.value.ename == "InputError"
    kept = _kept(out)
    assert "does not hold a PostgreSQL connection string" in kept  # the notebook says why
    assert "PLANTED" not in str(caught.value) and "PLANTED" not in kept


def test_notebook_with_a_live_dsn_shows_no_password(tmp_path, monkeypatch, pg):
    from perfkit.report.run import run_report
    from tests.test_reports import write_run

    run = write_run(tmp_path / "run", 800, seed=8)
    out = tmp_path / "out"
    out.mkdir()
    # a password holding an unencoded '@': libpq reads host "ss-PLANTED@127.0.0.1" and says so
    monkeypatch.setenv("PERFKIT_PG_DSN", f"postgresql://u:pw@ss-PLANTED@127.0.0.1:{pg.port}/db")
    run_report("overview", {"run": str(run), "pg_window_s": 0.1}, out / "o.html",
               out / "o.json", keep_notebook=True)  # fmt: skip
    kept = _kept(out)
    assert "live: host=REDACTED@127.0.0.1" in kept
    assert "PLANTED" not in kept


def test_regression_report_shows_utility_statements_without_passwords(tmp_path, pg):
    """Truth end to end: the server keeps the password, perfkit's store and report do not."""
    from perfkit.io.pg import snapshot_pg
    from perfkit.report.run import run_report
    from tests.test_reports import write_run

    pg.psql("do $$ begin if not exists (select from pg_roles where rolname = 'rotated') then "
            "create role rotated login; end if; end $$")  # fmt: skip
    secret = "ROTATEDpw-9f2c"
    pg.psql("select pg_stat_statements_reset()")  # few statements: the table's top 12 holds it
    runs = {}
    for name, times in (("base", 15), ("cand", 15)):
        run = write_run(tmp_path / name, 800, seed=11 if name == "base" else 12)
        snapshot_pg(pg.dsn(), run / "pg", views=("statements",))
        for _ in range(times):
            pg.psql(f"ALTER ROLE rotated PASSWORD '{secret}'")
        snapshot_pg(pg.dsn(), run / "pg", views=("statements",))
        runs[name] = run
    assert secret in pg.psql("select query from pg_stat_statements")  # the server's truth
    stored = b"".join(p.read_bytes() for r in runs.values() for p in (r / "pg").rglob("*")
                      if p.is_file())  # fmt: skip
    assert secret.encode() not in stored
    out = tmp_path / "out"
    out.mkdir()
    run_report("regression", {"baseline": str(runs["base"]), "candidate": str(runs["cand"])},
               out / "r.html", out / "r.json", keep_notebook=True)  # fmt: skip
    kept = _kept(out)
    assert "ALTER ROLE rotated PASSWORD" in kept  # the statement is in the report...
    assert secret not in kept  # ...without its password


def test_trust_table_shows_statements_hidden_from_the_reader(tmp_path, pg):
    from perfkit.io.pg import snapshot_pg
    from perfkit.report.overview import overview_report
    from tests.test_reports import write_run

    pg.psql(
        "do $$ begin if not exists (select from pg_roles where rolname = 'nomon') then "
        "create role nomon login; end if; if not exists (select from pg_roles where rolname = "
        "'worker') then create role worker login; end if; end $$"
    )
    pg.psql("drop table if exists trust_t; create table trust_t (x int); "
            "grant all on trust_t to worker")  # fmt: skip
    pg.psql("select pg_stat_statements_reset()")
    run = write_run(tmp_path / "run", 800, seed=13)
    snapshot_pg(pg.dsn(user="nomon"), run / "pg", views=("statements",))
    with psycopg.connect(pg.dsn(user="worker"), autocommit=True) as conn:
        for i in range(9):
            conn.execute("select count(*) from trust_t where x = %s", (i,))
    snapshot_pg(pg.dsn(user="nomon"), run / "pg", views=("statements",))
    others = pg.psql(
        "select count(*) from pg_stat_statements where userid <> 'nomon'::regrole"
    ).strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfkitWarning)
        report = overview_report(run)
    trust = report.run.trust().set_index("source")
    note = trust.loc["pg_stat_statements", "note"]
    assert f"{others} statements of" in note and "9 calls" in note, note


@pytest.mark.parametrize(
    "text",
    ["&" + "token" * 40_000, "a" * 200_000, "ab:" * 70_000, "password" * 25_000,
     '{"a":' * 40_000, '"' * 200_000, "Bearer " * 30_000, "a=" * 100_000,
     "http://" + "a:" * 100_000, "$a$ " * 50_000, "password '" * 20_000, "x://" * 50_000],
)  # fmt: skip
def test_redaction_is_linear_on_hostile_text(text):
    """Rejected lines and statement texts can be huge: no backtracking blow-up (ReDoS)."""
    import time

    from perfkit.io.redact import mask_credentials, redact_text

    for redact in (redact_text, redact_sql_text, redact_dsn, mask_credentials):
        start = time.perf_counter()
        redact(text)
        assert time.perf_counter() - start < 3.0, redact.__name__  # quadratic: minutes


def test_paths_that_differ_only_in_a_masked_value_are_one_path_and_route(tmp_path, monkeypatch):
    """Masking happens on each block's distinct paths before routes are inferred: 60 session
    ids in a path parameter, over several blocks, become one path and one route with all 60
    requests (two masked texts must count as one, not as 60 values of a parameter)."""
    import perfkit
    import perfkit.io.textfiles as textfiles

    line = ('10.0.0.1 - - [01/Jan/2024:00:00:{s:02d} +0000] "GET /cart;jsessionid=SID{k:04d}X '
            'HTTP/1.1" 200 5 "-" "ua" 1500\n')  # fmt: skip
    other = '10.0.0.2 - - [01/Jan/2024:00:01:00 +0000] "GET /home HTTP/1.1" 200 5 "-" "ua" 900\n'
    path = tmp_path / "access.log"
    path.write_text("".join(line.format(s=k % 60, k=k) for k in range(60)) + other * 5)
    monkeypatch.setattr(textfiles, "BLOCK_BYTES", 2 << 10)  # several blocks
    frame = perfkit.read_access_log(path, format="gunicorn_timed")
    assert path.stat().st_size > 3 * (2 << 10)
    _no_secret(frame, *[f"SID{k:04d}X" for k in range(60)])
    assert frame["path"].value_counts().to_dict() == {"/cart;jsessionid=REDACTED": 60, "/home": 5}
    assert frame["route"].value_counts().to_dict() == {"/cart;jsessionid=REDACTED": 60, "/home": 5}
    assert frame.attrs["perfkit"]["routes"]["inferred"] == []
