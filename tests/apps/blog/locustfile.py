"""Load for the blog: readers who mostly open the index, with little think time.

Weights: ``/`` 63 %, a post 12 %, a user's posts 10 %, a new post 5 %, the login
form 5 % and a login 5 % (both under the name ``/auth/login``: Locust writes a GET
and a POST row). ``BLOG_USERS``, ``BLOG_SEED`` and ``BLOG_POST_IDS`` say which
usernames and post ids exist (the recorder seeds the same ones).
"""

from __future__ import annotations

import os
import random

from locust import HttpUser, between, task

from tests.apps.blog.app import password_for, usernames

NAMES = usernames(int(os.environ.get("BLOG_USERS", "200")), int(os.environ.get("BLOG_SEED", "1")))
POST_IDS = int(os.environ.get("BLOG_POST_IDS", "2000"))


class Reader(HttpUser):
    wait_time = between(0.05, 0.2)

    @task(63)
    def index(self):
        self.client.get("/", name="/")

    @task(12)
    def post(self):
        self.client.get(f"/{random.randint(1, POST_IDS)}", name="/[id]")

    @task(10)
    def user_posts(self):
        self.client.get(f"/user/{random.choice(NAMES)}", name="/user/[name]")

    @task(5)
    def create(self):
        form = {
            "author": random.choice(NAMES),
            "title": f"Load test note {random.randint(1, 10**6)}",
            "body": "Written by Locust.\n\n" + "lorem ipsum " * random.randint(10, 60),
        }
        self.client.post("/create", data=form, name="/create", allow_redirects=False)

    @task(5)
    def login_form(self):
        self.client.get("/auth/login", name="/auth/login")

    @task(5)
    def login(self):
        name = random.choice(NAMES)
        password = password_for(name) if random.random() < 0.9 else "wrong"
        form = {"username": name, "password": password}
        self.client.post("/auth/login", data=form, name="/auth/login", allow_redirects=False)
