"""A small stock depot (warehouse-like, not examples/warehouse): bin codes, SKUs, orders.

Recorded by record.py; its ``app.url_map`` is the truth tests score inferred routes against.
"""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return "ok"


@app.get("/inventory/locations/<bin_code>")
def location(bin_code):
    return jsonify(bin=bin_code)


@app.get("/inventory/locations/<bin_code>/moves")
def location_moves(bin_code):
    return jsonify([])


@app.get("/inventory/items/<sku>")
def item(sku):
    return jsonify(sku=sku)


@app.get("/orders/new")
def order_new():
    return "form"


@app.get("/orders/export")
def order_export():
    return "csv"


@app.get("/orders/<int:order_id>")
def order(order_id):
    return jsonify(id=order_id)


@app.get("/orders/<int:order_id>/lines")
def order_lines(order_id):
    return jsonify([])


@app.get("/suppliers/<slug>")
def supplier(slug):
    return jsonify(slug=slug)


@app.get("/zones/<zone>/racks/<rack>")
def rack(zone, rack):
    return jsonify(zone=zone, rack=rack)


@app.get("/reports/daily")
def report_daily():
    return "daily"


@app.get("/reports/weekly")
def report_weekly():
    return "weekly"


@app.get("/api/v2/shipments/<uuid:shipment>")
def shipment(shipment):
    return jsonify(id=str(shipment))
