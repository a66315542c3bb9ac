"""A Flask app with a heavy and a light page sharing one database call, for profile-mix tests.

Both pages run one SQLite query through ``sqlite3.Cursor.execute`` (a C method: its time is
its own) and build their HTML in `render`, a Python loop whose time is its own too: the
heavy page renders 60,000 rows (tens of ms), the light one 20. `slow_query` makes the
query walk 20x as many rows on both pages; nothing else changes.
"""

from __future__ import annotations

import sqlite3

from flask import Flask

QUERY = (
    "with recursive n(i) as (select 1 union all select i + 1 from n where i < ?) "
    "select count(*) from n"
)


def render(rows: int, label: str) -> str:
    """The page's HTML, row by row (own time grows with `rows`)."""
    parts = []
    for i in range(rows):
        parts.append("<li>" + label + "-" + str(i) + ":" + str(i * i % 97) + "</li>")
    return "<ul>" + "".join(parts) + "</ul>"


def create_app(slow_query: bool = False) -> Flask:
    """The app; `slow_query` plants the only change: the shared query does 20x the work."""
    app = Flask("mix_pages")
    db = sqlite3.connect(":memory:", check_same_thread=False)
    steps = 80_000 if slow_query else 4_000

    def count() -> int:
        return db.cursor().execute(QUERY, (steps,)).fetchone()[0]

    @app.get("/reports/<int:report_id>")
    def heavy(report_id: int):
        return render(60_000, f"report {report_id}") + str(count())

    @app.get("/items/<int:item_id>")
    def light(item_id: int):
        return render(20, f"item {item_id}") + str(count())

    return app
