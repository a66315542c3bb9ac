"""Column names for fields the formats name freely (headers, variables)."""

from __future__ import annotations

import re

from perfkit.io.logformat.fields import Field, Literal

Item = Field | Literal


def column_name(key: str) -> str:
    """snake_case of a header or variable name: 'X-Forwarded-For' -> 'x_forwarded_for'."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", key).strip("_").lower()
    return name if name and not name[0].isdigit() else f"f_{name}"


def unique_name(base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`... whichever is not yet in `taken` (which it joins)."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def merge_literals(items: list[Item]) -> tuple[Item, ...]:
    """`items` with adjacent literals joined and empty ones dropped."""
    merged: list[Item] = []
    for item in items:
        if isinstance(item, Literal):
            if not item.text:
                continue
            if merged and isinstance(merged[-1], Literal):
                merged[-1] = Literal(merged[-1].text + item.text)
                continue
        merged.append(item)
    return tuple(merged)
