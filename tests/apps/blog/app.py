"""Flaskr, Flask's tutorial blog, on PostgreSQL through raw psycopg 3 (no ORM).

Configuration from the environment:

- ``BLOG_DB``: libpq connection string (required);
- ``BLOG_FAIL_RATE``: share of ``GET /<id>`` requests that raise (HTTP 500), default 0;
- ``BLOG_PROFILE_DIR`` + ``BLOG_PROFILE_EVERY`` (N): every N-th request of each worker
  process goes through Werkzeug's ProfilerMiddleware (default dump names).

Each worker thread opens one connection and reuses it (autocommit). ``seed``
creates the schema and fills it from a seeded RNG.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import threading

import flask
import psycopg
from psycopg.rows import dict_row
from werkzeug.middleware.profiler import ProfilerMiddleware
from werkzeug.security import check_password_hash, generate_password_hash

HASH_METHOD = "pbkdf2:sha256:2000"  # a few ms per check, as a cheap login should cost
SCHEMA = """
create table users (
    id serial primary key,
    username text unique not null,
    password_hash text not null
);
create table posts (
    id serial primary key,
    author_id integer not null references users (id),
    title text not null,
    body text not null,
    created timestamptz not null default now()
);
create index posts_author_idx on posts (author_id);
"""
INDEX_SQL = """
select p.id, p.title, p.body, p.created, u.username
from (select * from posts order by created desc limit 30) p
join users u on u.id = p.author_id
order by p.created desc
"""  # no index on created: every call sorts the whole posts table (top-N heapsort)
FIRST = ("dana", "alex", "sam", "lee", "kim", "noor", "ivan", "mila", "omar", "rosa",
         "yuki", "liam", "ada", "tomas", "priya", "jonas", "ines", "kofi", "lena", "marco")  # fmt: skip
LAST = ("wagner", "smith", "okafor", "silva", "novak", "tanaka", "berg", "costa", "haddad",
        "kowalski", "nguyen", "moreau", "fischer", "rossi", "larsen", "ali", "dubois", "weber")  # fmt: skip
_VOCABULARY = """
the quick service answers slow requests under load when workers wait on locks indexes
queries pages tables rows memory cache latency budget deploy release template render
flask gunicorn postgres python profile sort scan plan merge join user post blog title
draft note idea night morning coffee garden river city
"""
WORDS = tuple(_VOCABULARY.split())

_local = threading.local()


def usernames(count: int, seed: int = 1) -> list[str]:
    """`count` distinct usernames like ``dana_wagner13``, the same for the same seed."""
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < count:
        name = f"{rng.choice(FIRST)}_{rng.choice(LAST)}{rng.randint(1, 99)}"
        if name not in names:
            names.append(name)
    return names


def password_for(username: str) -> str:
    """The seeded password of a user (test data, not a secret)."""
    return f"{username[::-1]}-pw"


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def seed(dsn: str, users: int, posts: int, rng_seed: int = 1, author_index: bool = True) -> None:
    """Create the schema and fill it deterministically; drop posts_author_idx if not wanted."""
    names = usernames(users, rng_seed)
    rng = random.Random(rng_seed + 1)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        with conn.cursor() as cur:
            with cur.copy("copy users (username, password_hash) from stdin") as copy:
                for name in names:
                    copy.write_row((name, generate_password_hash(password_for(name), HASH_METHOD)))
            with cur.copy("copy posts (author_id, title, body, created) from stdin") as copy:
                for _ in range(posts):
                    title = _text(rng, 3, 7).capitalize()
                    body = "\n\n".join(_text(rng, 15, 45) for _ in range(rng.randint(1, 3)))
                    created = start + dt.timedelta(seconds=rng.randrange(365 * 86400))
                    copy.write_row((rng.randint(1, users), title, body, created))
        if not author_index:
            conn.execute("drop index posts_author_idx")
        conn.execute("vacuum analyze")


def db() -> psycopg.Connection:
    """This thread's connection, opened on first use and reused."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg.connect(os.environ["BLOG_DB"], autocommit=True, row_factory=dict_row)
        _local.conn = conn
    return conn


class EveryNth:
    """Send every `every`-th request of this process through ProfilerMiddleware."""

    def __init__(self, app, profile_dir: str, every: int) -> None:
        self.app, self.every = app, max(1, every)
        self.profiled = ProfilerMiddleware(app, stream=None, profile_dir=profile_dir)
        self.counter = itertools.count(1)

    def __call__(self, environ, start_response):
        chosen = self.profiled if next(self.counter) % self.every == 0 else self.app
        return chosen(environ, start_response)


def create_app() -> flask.Flask:
    """The blog; see the module docstring for its environment."""
    fail_rate = float(os.environ.get("BLOG_FAIL_RATE", "0") or 0)
    app = flask.Flask(__name__)
    app.secret_key = "perfkit-blog-test"  # test app: sessions only carry a user id

    @app.before_request
    def load_logged_in_user():
        user_id = flask.session.get("user_id")
        flask.g.user = None
        if user_id is not None:
            flask.g.user = (
                db().execute("select id, username from users where id = %s", (user_id,)).fetchone()
            )

    @app.get("/health")
    def health():
        return {"ok": True}

    @app.get("/")
    def index():
        posts = db().execute(INDEX_SQL).fetchall()
        authors = db().execute("select username from users order by username").fetchall()
        return flask.render_template("blog/index.html", posts=posts, authors=authors)

    @app.get("/<int:id>")
    def post(id: int):
        found = (
            db()
            .execute(
                "select p.id, p.title, p.body, p.created, p.author_id, u.username "
                "from posts p join users u on u.id = p.author_id where p.id = %s",
                (id,),
            )
            .fetchone()
        )
        if found is None:
            flask.abort(404, f"Post id {id} doesn't exist.")
        if fail_rate and random.random() < fail_rate:
            raise RuntimeError(f"post {id}: planted failure (BLOG_FAIL_RATE={fail_rate})")
        return flask.render_template("blog/post.html", post=found)

    @app.get("/user/<username>")
    def user_posts(username: str):
        posts = (
            db()
            .execute(
                "select p.id, p.title, p.created from posts p join users u on u.id = p.author_id "
                "where u.username = %s order by p.created desc",
                (username,),
            )
            .fetchall()
        )
        if not posts and db().execute(
            "select 1 from users where username = %s", (username,)
        ).fetchone() is None:  # fmt: skip
            flask.abort(404)
        return flask.render_template("blog/user.html", username=username, posts=posts)

    @app.route("/create", methods=("GET", "POST"))
    def create():
        if flask.request.method == "POST":
            form = flask.request.form
            title, body = form.get("title", "").strip(), form.get("body", "")
            author = (
                db()
                .execute("select id from users where username = %s", (form.get("author", ""),))
                .fetchone()
            )
            if not title or author is None:
                flask.flash("Title and a known author are required.")
                return flask.render_template("blog/create.html"), 400
            new = (
                db()
                .execute(
                    "insert into posts (title, body, author_id) values (%s, %s, %s) returning id",
                    (title, body, author["id"]),
                )
                .fetchone()
            )
            return flask.redirect(flask.url_for("post", id=new["id"]))
        return flask.render_template("blog/create.html")

    @app.route("/auth/login", methods=("GET", "POST"))
    def login():
        if flask.request.method == "POST":
            username = flask.request.form.get("username", "")
            user = (
                db()
                .execute("select id, password_hash from users where username = %s", (username,))
                .fetchone()
            )
            if user is None or not check_password_hash(
                user["password_hash"], flask.request.form.get("password", "")
            ):
                flask.flash("Incorrect username or password.")
            else:
                flask.session.clear()
                flask.session["user_id"] = user["id"]
                return flask.redirect(flask.url_for("index"))
        return flask.render_template("auth/login.html")

    profile_dir = os.environ.get("BLOG_PROFILE_DIR")
    if profile_dir:
        every = int(os.environ.get("BLOG_PROFILE_EVERY", "25"))
        app.wsgi_app = EveryNth(app.wsgi_app, profile_dir, every)
    return app
