"""A Flask app driven by its own test client: Flask/Werkzeug frames called BY the script
(and imported at start-up), never at the bottom of the stack: nothing to collapse."""

import time

from flask import Flask

app = Flask(__name__)


def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@app.get("/work")
def work():
    spin(0.02)
    return "ok"


def main():
    client = app.test_client()
    for _ in range(5):
        assert client.get("/work").status_code == 200


main()
