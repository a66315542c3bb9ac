"""Routes without rules: parameters inferred from the paths' shape and from the data.

Truth comes from outside perfkit: the recorded apps' own ``url_map`` (Werkzeug
matches every logged path), or a seeded generator that plants known routes.
"""

from __future__ import annotations

import importlib.util
import json
import random
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import perfkit
from perfkit.errors import InputError
from perfkit.io.routes import (
    UNMATCHED,
    infer_templates,
    route_labels,
    rules_from,
    rules_from_labels,
)

WILD = Path(__file__).parent / "data" / "wild" / "routes"
LINE = '10.0.0.1 - - [10/Oct/2024:13:55:{s:02d} +0000] "GET {path} HTTP/1.1" 200 10 "-" "ua" 1500\n'


# --- truth and scoring ---------------------------------------------------------------------


def _app(name: str):
    spec = importlib.util.spec_from_file_location(f"wild_routes_{name}", WILD / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def _truth(app, paths) -> dict[str, str | None]:
    """The rule Werkzeug routes each (decoded) path to; static files: rule + directory."""
    from werkzeug.exceptions import NotFound

    adapter = app.url_map.bind("localhost")
    out: dict[str, str | None] = {}
    for p in paths:
        try:
            rule, args = adapter.match(urllib.parse.unquote(p), "GET", return_rule=True)
        except NotFound:
            out[p] = None
            continue
        if rule.endpoint == "static":  # one route per directory is what we ask for there
            out[p] = "/static/" + args["filename"].rpartition("/")[0]
        else:
            out[p] = rule.rule
    return out


def _score(truth: pd.Series, route: pd.Series) -> tuple[float, int, int]:
    """Share of requests grouped exactly, rules exercised, routes found.

    A request is right when its route's most common rule is its rule and its
    rule's most common route is its route (a one-to-one pairing): a rule split
    over two routes, or two rules lumped in one, costs the smaller side.
    """
    pair = pd.DataFrame({"t": truth.to_numpy(), "r": route.astype(str).to_numpy()})
    rule_of = pair.groupby("r")["t"].agg(lambda s: s.value_counts().index[0])
    route_of = pair.groupby("t")["r"].agg(lambda s: s.value_counts().index[0])
    right = (pair["r"].map(rule_of) == pair["t"]) & (pair["t"].map(route_of) == pair["r"])
    return float(right.mean()), pair["t"].nunique(), pair["r"].nunique()


# --- the recorded corpus: real Gunicorn, two apps ---------------------------------------------


LOGS = ["forum", "depot", "forum_gunicorn20", "depot_gunicorn20", "forum_nginx"]


@pytest.fixture(scope="module", params=LOGS)
def recorded(request):
    app = _app(request.param.split("_")[0] + "_app")
    df = perfkit.read_access_log(WILD / f"{request.param}.access.log.gz")
    truth = df["path"].map(_truth(app, df["path"].unique()))
    # the app's router and the server agree: exactly the 404s match no rule
    assert (truth.isna() == (df["status"] == 404)).all()
    return request.param.split("_")[0], app, df, truth


def test_recorded_apps_rules_are_recovered(recorded):
    name, _, df, truth = recorded
    known = truth.notna()
    share, rules, routes = _score(truth[known], df["route"][known])
    assert share >= 0.99, name
    assert abs(routes - rules) <= 0.1 * rules, (routes, rules)
    # the scanners' 404s (no rule) never share a route with an app rule
    junk = set(df.loc[~known, "route"].astype(str))
    assert junk and not junk & set(df.loc[known, "route"].astype(str))


def test_no_email_reaches_routes_or_the_account(recorded):
    _, _, df, _ = recorded
    emails = df["path"].str.contains("%40|@", regex=True)
    assert emails.sum() > (300 if recorded[0] == "forum" else -1)
    text = " ".join(df["route"].astype(str).unique()) + json.dumps(df.attrs["perfkit"]["routes"])
    assert "@" not in text and "%40" not in text.upper()


def test_what_was_inferred_is_reported(recorded):
    name, _, df, _ = recorded
    inferred = pd.DataFrame(df.attrs["perfkit"]["routes"]["inferred"])
    assert list(inferred.columns) == ["depth", "prefix", "template", "values", "requests", "kept"]
    row = inferred.set_index("prefix").loc["/user" if name == "forum" else "/inventory/locations"]
    # independent counts: distinct values at that segment and their requests, straight from the log
    seg = 2 if name == "forum" else 3
    parts = df["path"].str.split("/")
    under = parts.str[seg - 1].eq(row.name.rsplit("/", 1)[1]) & parts.str.len().gt(seg)
    assert row["values"] == parts[under].str[seg].nunique()
    assert row["requests"] == under.sum()
    # the parameters of an inferred route are all template names, never values
    assert all(t.rsplit("/", 1)[1].startswith("{") for t in inferred["template"])


def _some_rules(app) -> list[str]:
    """Three of the app's rules: two with variables, one without."""
    rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint != "static"]
    return [r for r in rules if "<" in r][:2] + [r for r in rules if "<" not in r][:1]


def test_partial_rules_fall_back_to_inference(recorded):
    _, app, full, truth_all = recorded
    path = Path(full.attrs["perfkit"]["files"][0]["file"])
    some = _some_rules(app)
    df = perfkit.read_access_log(path, routes=some)
    assert UNMATCHED not in set(df["route"].astype(str))
    known = truth_all.notna()
    share, rules, routes = _score(truth_all[known], df["route"][known])
    assert share >= 0.99 and abs(routes - rules) <= 0.1 * rules
    # strict matching stays available; its unmatched count is Werkzeug's, with only those rules
    import werkzeug.routing as wr
    from werkzeug.exceptions import NotFound

    strict = perfkit.read_access_log(path, routes=some, unmatched="label")
    adapter = wr.Map([wr.Rule(r, endpoint=r) for r in some]).bind("localhost")

    def misses(p: str) -> bool:
        try:
            adapter.match(urllib.parse.unquote(p), "GET")
        except NotFound:
            return True
        return False

    expected = strict["path"].map({p: misses(p) for p in strict["path"].unique()}).sum()
    assert (strict["route"] == UNMATCHED).sum() == expected > 0
    assert strict.attrs["perfkit"]["routes"]["unmatched"] == expected
    assert df.attrs["perfkit"]["routes"]["unmatched"] == expected  # still counted when inferred


def test_split_files_give_the_same_routes_as_one(tmp_path):
    """Inference runs over the whole log's distinct paths, not per block or file."""
    import gzip

    lines = gzip.decompress((WILD / "forum.access.log.gz").read_bytes()).splitlines(True)
    (tmp_path / "a.log").write_bytes(b"".join(lines[:400]))
    (tmp_path / "b.log").write_bytes(b"".join(lines[400:]))
    whole = perfkit.read_access_log(WILD / "forum.access.log.gz")
    split = perfkit.read_access_log([tmp_path / "a.log", tmp_path / "b.log"])
    assert split["route"].astype(str).tolist() == whole["route"].astype(str).tolist()


def test_the_api_and_the_loader_share_one_labelling(recorded):
    _, _, df, _ = recorded
    labels, info = route_labels(pa.array(df["path"].astype(str).tolist()))
    assert labels.to_pylist() == df["route"].astype(str).tolist()
    assert info["inferred"] == df.attrs["perfkit"]["routes"]["inferred"]


# --- a planted tree, seeded, scored by exact recovery -----------------------------------------


def _planted(seed: int, n: int = 6000) -> tuple[list[str], list[str]]:
    """Requests of a site with known routes: (paths, the route each was drawn from)."""
    rng = random.Random(seed)

    def pool(make, size):
        return sorted({make() for _ in range(size)})

    name = pool(lambda: rng.choice(["ann", "bo", "cy", "di"]) + rng.choice(["_", ".", ""])
                + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randrange(2, 7)))
                + rng.choice(["", str(rng.randrange(100))]), 400)  # fmt: skip
    code = pool(lambda: f"{rng.choice('ABCDEFGHJK')}-{rng.randrange(1, 40):02d}-"
                        f"{rng.randrange(1, 20):02d}", 500)  # fmt: skip
    slug = pool(lambda: "-".join(rng.sample(["red", "blue", "cat", "dog", "fast", "tips", "why",
                                             "go", "rust", "zen", "tea"], rng.randrange(2, 5)))
                + rng.choice(["", "-2024", "-3"]), 300)  # fmt: skip
    mail = pool(lambda: f"{rng.choice(name)}@{rng.choice(['ex.com', 'mail.org'])}", 200)
    word = pool(lambda: "".join(rng.choices("aeiou", k=2)) + "".join(rng.choices("xyz", k=3)), 60)
    routes = {
        "/": lambda: "/",
        "/about": lambda: "/about",
        "/docs/start": lambda: "/docs/start",
        "/docs/limits": lambda: "/docs/limits",
        "/docs/faq": lambda: "/docs/faq",
        "/u/<name>": lambda: f"/u/{z(name)}",
        "/u/<name>/posts": lambda: f"/u/{z(name)}/posts",
        "/u/<name>/likes": lambda: f"/u/{z(name)}/likes",
        "/u/settings": lambda: "/u/settings",
        "/bins/<code>": lambda: f"/bins/{z(code)}",
        "/bins/<code>/moves/<int:n>": lambda: f"/bins/{z(code)}/moves/{rng.randrange(1, 999)}",
        "/topics/<slug>": lambda: f"/topics/{z(slug)}",
        "/topics/new": lambda: "/topics/new",
        "/api/v1/people/<email>": lambda: f"/api/v1/people/{quote(z(mail))}",
        "/api/v1/orders/<int:id>": lambda: f"/api/v1/orders/{rng.randrange(1, 10**6)}",
        "/api/v1/orders/new": lambda: "/api/v1/orders/new",
        "/a/<x>/b/<y>": lambda: f"/a/{z(word)}/b/{z(code).lower()}",
        "/static/<path>": lambda: f"/static/js/{z(word)}.{rng.getrandbits(24):06x}.js",
    }
    weights = [5, 1, 2, 2, 2, 8, 4, 3, 1, 6, 3, 5, 1, 4, 5, 1, 3, 4]

    def z(items):  # Zipf-like: a few hot values, a long tail of rare ones
        return items[min(int(rng.paretovariate(0.8)) - 1, len(items) - 1)]

    def quote(e):
        return urllib.parse.quote(e, safe="") if rng.random() < 0.5 else e

    keys = rng.choices(list(routes), weights, k=n)
    return [routes[k]() for k in keys], keys


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_tree_is_recovered_exactly(seed):
    paths, truth = _planted(seed)
    labels, info = route_labels(pa.array(paths))
    share, rules, routes = _score(pd.Series(truth), pd.Series(labels.to_pylist()))
    assert (share, routes) == (1.0, rules)
    found = set(labels.to_pylist())
    for literal in ("/u/settings", "/topics/new", "/api/v1/orders/new", "/docs/faq", "/about"):
        assert literal in found
    assert not any("@" in r or "%40" in r for r in found)
    kept = {w for row in info["inferred"] for w in row["kept"]}
    assert {"settings", "new"} <= kept


# --- adversarial cases ----------------------------------------------------------------------


def _routes(paths: list[str]) -> pd.Series:
    labels, _ = route_labels(pa.array(paths))
    return pd.Series(labels.to_pylist()).value_counts()


def test_a_few_literal_pages_visited_often_stay_literal():
    pages = ["/docs/install", "/docs/faq", "/docs/privacy"]
    routes = _routes(pages * 500)
    assert sorted(routes.index) == sorted(pages)
    # ten plain-word pages, each visited often: still pages, not a parameter
    ten = [f"/help/{w}" for w in ("billing", "account", "privacy", "terms", "shipping",
                                  "returns", "contact", "careers", "press", "security")]  # fmt: skip
    assert len(_routes(ten * 40)) == 10


def test_hyphenated_pages_visited_often_stay_pages():
    """Not plain words is not enough: a dozen hyphenated pages, each visited often, are pages."""
    pages = ["getting-started", "api-reference", "rate-limits", "error-codes", "web-hooks",
             "release-notes", "data-retention", "single-sign-on", "audit-log", "sla-terms"]  # fmt: skip
    counts = [400, 200, 130, 100, 80, 66, 57, 50, 44, 40]  # Zipf-like, none rare
    paths = [f"/docs/{p}" for p, c in zip(pages, counts, strict=True) for _ in range(c)]
    assert len(_routes(paths)) == 10
    # the same names as 20 values, or with a rare tail, are a parameter
    assert len(_routes(paths + [f"/docs/{p}-v2" for p in pages])) == 1
    one_offs = [f"/docs/{w}-off" for w in ("one", "two", "three", "four")]
    assert len(_routes([*paths, *one_offs])) == 1


def test_the_easy_rule_is_wrong_for_rare_plain_words():
    """Plain lower-case names (no digits) are users when there are many, each rare."""
    rng = random.Random(5)
    names = sorted({"".join(rng.choices("aeioulmnrst", k=rng.randrange(3, 8))) for _ in range(60)})
    routes = _routes([f"/user/{n}" for n in names])
    assert list(routes.index) == ["/user/{param}"] and routes.iloc[0] == len(names)


def test_one_hot_value_still_collapses():
    rng = random.Random(3)
    users = [f"user_{i}x" for i in range(40)]
    paths = ["/user/alice"] * 600 + ["/user/alice/posts"] * 60
    paths += [f"/user/{rng.choice(users)}" for _ in range(340)]
    paths += [f"/user/{rng.choice(users)}/posts" for _ in range(40)]
    routes = _routes(paths)
    assert routes.to_dict() == {"/user/{param}": 940, "/user/{param}/posts": 100}


def test_a_hot_word_with_tails_of_its_own_stays_literal():
    users = [f"dana_{i}" for i in range(30)]
    paths = [f"/user/{u}" for u in users] * 2 + ["/user/inbox/unread"] * 50 + ["/user/inbox"] * 20
    routes = _routes(paths)
    assert routes.to_dict() == {"/user/inbox/unread": 50, "/user/{param}": 60, "/user/inbox": 20}


def test_fixed_tails_give_one_route_each():
    names = [f"hugo_wolf{i}" for i in range(25)]
    paths = [f"/user/{n}{t}" for n in names for t in ("", "/posts", "/followers")]
    assert sorted(_routes(paths).index) == [
        "/user/{param}",
        "/user/{param}/followers",
        "/user/{param}/posts",
    ]


def test_depth_varying_parameters():
    rng = random.Random(9)
    paths = [f"/a/x{rng.randrange(50)}q/b/{rng.choice('PQRS')}-{rng.randrange(99):02d}"
             for _ in range(400)]  # fmt: skip
    assert list(_routes(paths).index) == ["/a/{param}/b/{code}"]


def test_a_word_fixed_elsewhere_stays_beside_a_parameter():
    slugs = [f"blue-cat-{w}" for w in "abcdefghijklmnop"]
    paths = [f"/topics/{s}" for s in slugs] + ["/topics/archive"] * 3
    paths += ["/posts/archive", "/posts/today"]  # 'archive' is a literal page elsewhere
    routes = _routes(paths)
    assert routes["/topics/{slug}"] == 16 and routes["/topics/archive"] == 3


def test_orders_new_beside_ids():
    paths = [f"/orders/{i}" for i in range(500)] + ["/orders/new"] * 5 + ["/orders/export"]
    assert _routes(paths).to_dict() == {"/orders/{id}": 500, "/orders/new": 5,
                                        "/orders/export": 1}  # fmt: skip


@pytest.mark.parametrize(
    "email", ["d.galeev%40evadav.com", "D.Galeev%40EvaDav.COM", "dana+x@mail.example.org"]
)
def test_a_single_rare_email_is_collapsed(email):
    routes = _routes(["/api/users/me/stats"] * 50 + [f"/api/users/{email}/stats"])
    assert routes.to_dict() == {"/api/users/me/stats": 50, "/api/users/{email}/stats": 1}


def test_slugs_with_and_without_digits_are_one_route():
    rng = random.Random(2)
    words = ["tune", "pg", "fast", "slow", "why", "how", "cache", "pool"]
    slugs = {"-".join(rng.sample(words, 3)) + rng.choice(["", "-2024", "-101"]) for _ in range(80)}
    assert list(_routes([f"/t/{s}" for s in sorted(slugs)]).index) == ["/t/{slug}"]


def test_static_assets_become_one_route_per_directory():
    rng = random.Random(4)
    paths = [f"/static/js/chunk-{rng.getrandbits(32):08x}.js" for _ in range(3000)]
    paths += [f"/static/img/p{i}_{rng.choice('abc')}.png" for i in range(400)]
    paths += ["/static/css/site.css"] * 30
    assert sorted(_routes(paths).index) == [
        "/static/css/site.css",
        "/static/img/{file}",
        "/static/js/{file}",
    ]


def test_first_level_junk_does_not_swallow_the_app():
    junk = [f"/{w}.php" for w in ("wp-login", "admin", "xmlrpc", "shell", "cmd", "up", "x", "db")]
    junk += [f"/.{w}" for w in ("env", "git", "aws", "ssh", "npmrc", "docker", "svn", "hg")]
    app = ["/orders"] * 30 + ["/login"] * 20 + ["/healthz"] * 40
    routes = _routes(junk + app)
    assert {"/orders", "/login", "/healthz"} <= set(routes.index) and len(routes) == 19


def test_counts_weigh_distinct_paths_like_repeated_requests():
    paths = [f"/u/k{i}z" for i in range(12)] + ["/u/main"]
    counts = np.array([1] * 12 + [500])
    labels, table = infer_templates(pa.array(paths), counts)
    repeated, _ = route_labels(pa.array(paths[:12] + ["/u/main"] * 500))
    assert labels.to_pylist() == ["/u/{param}"] * 13
    assert set(repeated.to_pylist()) == {"/u/{param}"}
    assert table.loc[0, ["values", "requests"]].tolist() == [13, 512]


def test_unmatched_paths_listed_in_the_account_mask_emails(tmp_path):
    path = tmp_path / "a.log"
    path.write_text("".join(LINE.format(s=i, path=p) for i, p in enumerate(
        ["/orders/1", "/api/users/ann%40ex.com/stats", "/api/users/bo@ex.org"])))  # fmt: skip
    df = perfkit.read_access_log(path, format="combined_us", routes=["/orders/<int:id>"],
                                 unmatched="label")  # fmt: skip
    top = df.attrs["perfkit"]["routes"]["top_unmatched"]
    assert sorted(p for p, _ in top) == ["/api/users/{email}", "/api/users/{email}/stats"]


def test_unmatched_must_be_infer_or_label(tmp_path):
    path = tmp_path / "a.log"
    path.write_text(LINE.format(s=1, path="/x"))
    with pytest.raises(InputError, match="unmatched must be 'infer' or 'label'"):
        perfkit.read_access_log(path, format="combined_us", routes=["/x"], unmatched="strict")
    with pytest.raises(InputError, match="unmatched"):
        route_labels(pa.array(["/x"]), rules_from(["/x"]), unmatched="drop")


def test_null_paths_and_odd_shapes_survive():
    paths = pa.array([None, "", "/", "//", "/a//b/", "*", "http://h/x", "/" + "s/" * 60])
    labels, _ = route_labels(paths)
    assert labels.to_pylist()[:7] == [None, "", "/", "//", "/a//b/", "*", "http://h/x"]
    assert labels.to_pylist()[7] == "/" + "s/" * 60


def test_other_paths_get_the_frames_labels(recorded):
    """Dumps or outbound paths, labelled by the frame's routes, agree with the frame."""
    _, _, df, _ = recorded
    some = df.sample(40, random_state=1)
    rules = rules_from_labels(df["route"].cat.categories)
    labels, info = route_labels(pa.array(some["path"].astype(str).tolist()), rules)
    assert labels.to_pylist() == some["route"].astype(str).tolist()
    assert info["unmatched"] == 0
    # a frame read with some of the app's rules: rule labels and inferred ones both carry over
    mixed = perfkit.read_access_log(
        Path(df.attrs["perfkit"]["files"][0]["file"]),
        routes=_some_rules(recorded[1]),
    )
    some = mixed.sample(60, random_state=2)
    rules = rules_from_labels(mixed["route"].cat.categories)
    labels, _ = route_labels(pa.array(some["path"].astype(str).tolist()), rules)
    assert labels.to_pylist() == some["route"].astype(str).tolist()
    assert any("<" in x for x in labels.to_pylist()) and any("{" in x for x in labels.to_pylist())
    # on their own, 40 paths are too few to infer the parameters from
    alone, _ = route_labels(pa.array(some["path"].astype(str).tolist()))
    assert alone.to_pylist() != some["route"].astype(str).tolist()


def test_the_data_trust_table_names_the_inferred_parameters(tmp_path):
    """A report's data-trust row says which route parameters were inferred (same account)."""
    import shutil

    from perfkit.report.evidence import load_run

    shutil.copy(WILD / "forum.access.log.gz", tmp_path / "access.log.gz")
    run = load_run(tmp_path)
    note = run.trust().set_index("source").loc["access log", "note"]
    inferred = run.requests.attrs["perfkit"]["routes"]["inferred"]
    top = max(inferred, key=lambda p: p["requests"])
    assert top["template"] == "/user/{param}"  # the forum's most requested user pages
    assert f"routes inferred from the data: {top['template']} from {top['values']:,} values" in note
    assert "@" not in note and "%40" not in note


def test_rules_with_unmatched_paths_over_many_blocks_match_one_block(tmp_path, monkeypatch):
    """A log read in several blocks (a chunked path column) with rules that leave paths
    unmatched: inferred the same as when it is one block (this raised AttributeError)."""
    import gzip

    import perfkit.io.textfiles as textfiles

    path = tmp_path / "forum.log"
    path.write_bytes(gzip.decompress((WILD / "forum.access.log.gz").read_bytes()))
    rules = ["/", "/t/<int:topic>"]
    whole = perfkit.read_access_log(path, routes=rules)
    monkeypatch.setattr(textfiles, "BLOCK_BYTES", 16 << 10)
    blocks = perfkit.read_access_log(path, routes=rules)
    assert path.stat().st_size > 4 * (16 << 10)  # several blocks
    assert blocks["route"].astype(str).tolist() == whole["route"].astype(str).tolist()
    assert UNMATCHED not in set(blocks["route"].astype(str))
    assert blocks.attrs["perfkit"]["routes"]["unmatched"] > 0  # inferred, not matched


def test_rules_with_a_request_without_a_path(tmp_path):
    """A JSON line without a path, with rules: its route is left empty (this raised
    ArrowTypeError), and the other lines are labelled as without it."""
    lines = [{"time": "2026-01-01T00:00:00Z", "path": p, "status": 200, "request_time": 0.01}
             for p in ["/t/1", "/t/2", "/about", "/u/ann", "/u/bob"]]  # fmt: skip
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(map(json.dumps, lines)) + "\n")
    expected = perfkit.read_access_log(path, routes=["/t/<int:id>"])["route"].astype(str).tolist()
    del lines[2]["path"]
    path.write_text("\n".join(map(json.dumps, lines)) + "\n")
    df = perfkit.read_access_log(path, routes=["/t/<int:id>"])
    routes = df["route"].astype(object).tolist()
    assert pd.isna(routes[2])
    assert [r for k, r in enumerate(routes) if k != 2] == expected[:2] + expected[3:]


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(st.lists(st.one_of(st.none(), st.sampled_from(
    ["/", "/a", "/a/1", "/b/x", "", "/ä"])), max_size=6), max_size=5))  # fmt: skip
def test_pieces_encoded_apart_unify_as_encoding_them_together(pieces):
    """The blocks' paths are dictionary-encoded as they are parsed; laid end to end they must
    give what encoding the whole column gives: the same distinct values in the same order
    (first appearance) and the same codes, nulls kept."""
    import pyarrow.compute as pc

    from perfkit.io.routes import unify_dictionaries

    encoded = [pc.dictionary_encode(pa.array(p, pa.string())) for p in pieces]
    whole = pc.dictionary_encode(pa.array([v for p in pieces for v in p], pa.string()))
    unified = unify_dictionaries(encoded)
    assert unified.dictionary.to_pylist() == whole.dictionary.to_pylist()
    assert unified.indices.to_pylist() == whole.indices.to_pylist()


def test_routes_inferred_over_many_blocks_match_one_block(tmp_path, monkeypatch):
    """Without rules, the blocks' paths encoded apart (in the parse threads) and unified give
    the routes and the inferred parameters that one block gives, on the forum app's log."""
    import gzip

    import perfkit.io.textfiles as textfiles

    path = tmp_path / "forum.log"
    path.write_bytes(gzip.decompress((WILD / "forum.access.log.gz").read_bytes()))
    whole = perfkit.read_access_log(path)
    monkeypatch.setattr(textfiles, "BLOCK_BYTES", 16 << 10)
    blocks = perfkit.read_access_log(path)
    assert path.stat().st_size > 4 * (16 << 10)  # several blocks
    assert blocks["route"].astype(str).tolist() == whole["route"].astype(str).tolist()
    assert list(blocks["route"].cat.categories) == list(whole["route"].cat.categories)
    assert blocks.attrs["perfkit"]["routes"] == whole.attrs["perfkit"]["routes"]
    assert whole.attrs["perfkit"]["routes"]["inferred"]  # something was inferred
