"""A small Flask app for profile tests: views that do real JSON, regex and SQLite work."""

from __future__ import annotations

import json
import re
import sqlite3
import time

from flask import Flask, jsonify

EMAIL = re.compile(r"(\w+)@(\w+)\.com")


def create_app(slow_pricing: bool = False) -> Flask:
    """The app; `slow_pricing` plants a known regression in `price_lines` (+15 ms per call)."""
    app = Flask("warehouse_views")
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("create table line(order_id int, sku text, qty int, price real)")
    db.executemany(
        "insert into line values (?, ?, ?, ?)",
        [(i % 50, f"SKU-{i}", i % 7 + 1, 9.5 + i % 13) for i in range(5000)],
    )

    def price_lines(order_id: int) -> float:
        rows = db.execute("select qty, price from line where order_id = ?", (order_id,)).fetchall()
        time.sleep(0.020 if slow_pricing else 0.005)
        return sum(q * p for q, p in rows)

    def render(payload: dict) -> str:
        text = json.dumps(payload)
        return json.dumps(json.loads(text), sort_keys=True)

    @app.get("/orders/<int:order_id>")
    def order(order_id: int):
        total = price_lines(order_id)
        contacts = EMAIL.findall("ops@warehouse.com sales@shipping.com " * 20)
        return jsonify(
            json.loads(render({"order": order_id, "total": total, "contacts": contacts}))
        )

    return app
