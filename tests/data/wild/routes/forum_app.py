"""A small forum (not the warehouse): user pages, e-mail keyed API, slugs, literal docs pages.

Recorded by record.py; its ``app.url_map`` is the truth tests score inferred routes against.
"""

import os

from flask import Flask, jsonify

# record.py points this at a temporary folder of the files it requests
app = Flask(
    __name__, static_folder=os.environ.get("FORUM_STATIC", "static"), static_url_path="/static"
)


@app.get("/")
def index():
    return "forum"


@app.get("/latest")
def latest():
    return "latest"


@app.get("/login")
def login():
    return "login"


@app.get("/docs/install")
def docs_install():
    return "install"


@app.get("/docs/faq")
def docs_faq():
    return "faq"


@app.get("/docs/privacy")
def docs_privacy():
    return "privacy"


@app.get("/user/<username>")
def user(username):
    return f"user {len(username)}"


@app.get("/user/<username>/posts")
def user_posts(username):
    return "posts"


@app.get("/user/<username>/followers")
def user_followers(username):
    return "followers"


@app.get("/t/<slug>")
def topic(slug):
    return "topic"


@app.get("/t/<slug>/<int:page>")
def topic_page(slug, page):
    return "page"


@app.get("/api/users/<email>/stats")
def user_stats(email):
    return jsonify(posts=len(email))


@app.get("/api/v1/posts/<int:post_id>")
def api_post(post_id):
    return jsonify(id=post_id)


@app.get("/api/v1/search")
def api_search():
    return jsonify([])
