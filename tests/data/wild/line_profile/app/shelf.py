"""A two-route Flask app (a book shelf) for perfkit's line-profile corpus; not the warehouse."""

from flask import Flask, jsonify

app = Flask(__name__)
BOOKS = {i: {"id": i, "title": f"Book {i}", "pages": 100 + 7 * i} for i in range(1, 51)}


def total_pages(ids):
    pages = 0
    for i in ids:
        pages += BOOKS[i]["pages"]
    return pages


@app.get("/books")
def list_books():
    ids = sorted(BOOKS)
    pages = total_pages(ids)
    return jsonify(count=len(ids), pages=pages)


@app.get("/books/<int:book_id>")
def show_book(book_id):
    book = BOOKS.get(book_id)
    if book is None:
        return jsonify(error="no such book"), 404
    return jsonify(book)
