"""Imports and uses stdlib libraries (json, email, csv, decimal): many importlib exec calls."""

import csv
import decimal
import email.message
import email.parser
import io
import json


def encode_json():
    doc = {"items": [{"id": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(200)]}
    for _ in range(60):
        json.loads(json.dumps(doc))


def mail():
    parser = email.parser.Parser()
    for i in range(150):
        msg = email.message.EmailMessage()
        msg["Subject"] = f"report {i}"
        msg["From"] = "ops@example.invalid"
        msg.set_content("line\n" * 20)
        parser.parsestr(msg.as_string())


def money():
    total = decimal.Decimal(0)
    buf = io.StringIO()
    writer = csv.writer(buf)
    for i in range(20000):
        total += decimal.Decimal(i) / 7
        if i % 10 == 0:
            writer.writerow([i, str(total)])
    return total


def main():
    encode_json()
    mail()
    money()


if __name__ == "__main__":
    main()
