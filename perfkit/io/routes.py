"""Request paths -> route templates, so per-endpoint statistics group correctly.

Given Flask rules (an app, a `werkzeug.routing.Map`, or rule strings such as
``/orders/<int:order_id>``) each path gets the first rule that matches it,
static rules before dynamic ones as Werkzeug orders them; paths no rule
matches get `UNMATCHED`. Without rules, a heuristic collapses the path
segments that are identifiers: numbers ``{id}``, UUIDs ``{uuid}``, hex hashes
``{hash}``, dates ``{date}``, long opaque tokens ``{token}`` and business codes
holding a run of three or more digits (``SKU-001173``) ``{code}``.

All matching is done once per distinct path, with RE2 over Arrow arrays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfkit.errors import InputError

UNMATCHED = "(unmatched)"
OTHER = "(other)"  # the heuristic routes beyond `ROUTE_CAP`, collapsed into one
ROUTE_CAP = 2000  # heuristic routes kept, most requested first

# Werkzeug's converters as RE2 patterns.
CONVERTERS: dict[str, str] = {
    "default": r"[^/]+",
    "string": r"[^/]+",
    "int": r"\d+",
    "float": r"\d+\.\d+",
    "path": r"[^/].*?",
    "uuid": r"[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}",
}
_VARIABLE = re.compile(
    r"<(?:(?P<conv>[a-zA-Z_]\w*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[a-zA-Z_]\w*)>"
)

# Heuristic segment classes, applied in order to whole path segments.
SEGMENTS: tuple[tuple[str, str], ...] = (
    (r"^\d+$", "{id}"),
    (r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", "{uuid}"),
    (r"^\d{4}-\d{2}-\d{2}$", "{date}"),
    (r"^[0-9a-fA-F]*[0-9][0-9a-fA-F]*$", None),  # hex with a digit: a hash when long enough
    (
        r"^[A-Za-z0-9_~.=-]*(?:[0-9][A-Za-z0-9_~.=-]*[A-Za-z]|[A-Za-z][A-Za-z0-9_~.=-]*[0-9])[A-Za-z0-9_~.=-]*$",
        None,
    ),
)
CODE = r"^[A-Za-z0-9_~.=-]*[0-9]{3}[A-Za-z0-9_~.=-]*$"  # SKU-001173, ORD2024X: business codes
HASH_MIN_CHARS = 16
TOKEN_MIN_CHARS = 20


@dataclass(frozen=True)
class Rule:
    """A Flask rule: its text (the route label) and the RE2 pattern of its paths."""

    text: str
    pattern: str
    order: tuple[int, int, int]


def compile_rule(text: str) -> Rule:
    """Compile a Flask rule string like ``/orders/<int:order_id>``."""
    pattern, pos, converters, has_path = "", 0, 0, 0
    for match in _VARIABLE.finditer(text):
        pattern += re.escape(text[pos : match.start()])
        conv = match["conv"] or "default"
        if conv == "any":
            options = [o.strip().strip("'\"") for o in (match["args"] or "").split(",")]
            piece = "(?:" + "|".join(re.escape(o) for o in options if o) + ")"
        elif conv in CONVERTERS:
            piece = CONVERTERS[conv]
        else:
            raise InputError(
                f"route {text!r}: unknown converter '{conv}'; known: any, {', '.join(CONVERTERS)}"
            )
        pattern += f"(?:{piece})"
        converters += 1
        has_path |= conv == "path"
        pos = match.end()
    if "<" in text[pos:] or ">" in text[pos:]:
        raise InputError(f"route {text!r}: expected variables like <int:order_id>")
    pattern += re.escape(text[pos:])
    static = len(_VARIABLE.sub("", text))
    return Rule(text, f"^{pattern}$", (has_path, converters, -static))


def rules_from(routes: Any) -> list[Rule]:
    """Rules from a Flask app, a Werkzeug Map, or an iterable of rule strings."""
    url_map = getattr(routes, "url_map", routes)
    if hasattr(url_map, "iter_rules"):
        texts: Iterable[str] = (r.rule for r in url_map.iter_rules())
    elif isinstance(routes, str):
        texts = [routes]
    else:
        try:
            texts = list(routes)
        except TypeError as exc:
            raise InputError(
                "routes= takes a Flask app, a werkzeug Map or a list of rule strings, "
                f"not {type(routes).__name__}"
            ) from exc
    rules = [compile_rule(str(t)) for t in dict.fromkeys(texts)]
    return sorted(rules, key=lambda r: r.order)


def route_labels(
    paths: pa.Array, rules: list[Rule] | None = None
) -> tuple[pa.DictionaryArray, dict[str, Any]]:
    """Route label per path (dictionary-encoded) and how they were found.

    `rules` come from `rules_from`; None uses the heuristic. With rules, the
    info counts the requests no rule matched and their paths (most frequent
    `TOP_UNMATCHED`), for `merge_route_info` to combine across blocks.
    """
    encoded = pc.dictionary_encode(paths)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    distinct = encoded.dictionary
    labels = heuristic_templates(distinct) if rules is None else _match_rules(distinct, rules)
    label_codes = pc.dictionary_encode(labels)
    indices = pc.take(label_codes.indices, encoded.indices)
    result = pa.DictionaryArray.from_arrays(indices, label_codes.dictionary)
    info: dict[str, Any] = {
        "source": "heuristic" if rules is None else "rules",
        "requests": len(paths),
    }
    if rules is not None:
        info.update(_unmatched(result, encoded))
    return result, info


TOP_UNMATCHED = 10


def merge_route_info(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """Combine per-block route infos into the account's: share and top unmatched paths."""
    if not infos:
        return {}
    merged: dict[str, Any] = {"source": infos[0]["source"]}
    if merged["source"] != "rules":
        return merged
    total = sum(i["requests"] for i in infos)
    unmatched = sum(i["unmatched"] for i in infos)
    counts: dict[str, int] = {}
    for info in infos:
        for path, count in info["unmatched_paths"]:
            counts[path] = counts.get(path, 0) + count
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_UNMATCHED]
    merged.update(
        unmatched=unmatched,
        unmatched_share=unmatched / total if total else 0.0,
        top_unmatched=[[path, count] for path, count in top],
    )
    return merged


def _match_rules(distinct: pa.Array, rules: list[Rule]) -> pa.Array:
    labels = np.full(len(distinct), None, dtype=object)
    free = np.ones(len(distinct), dtype=bool)
    for rule in rules:
        matched = pc.match_substring_regex(distinct, rule.pattern)
        hit = pc.fill_null(matched, False).to_numpy(zero_copy_only=False) & free
        labels[hit] = rule.text
        free &= ~hit
    labels[free] = UNMATCHED
    return pa.array(labels, pa.string())


def _unmatched(result: pa.DictionaryArray, encoded: pa.DictionaryArray) -> dict[str, Any]:
    code = result.dictionary.index(UNMATCHED).as_py()
    if code < 0:
        return {"unmatched": 0, "unmatched_paths": []}
    mask = pc.equal(result.indices, code)
    counts = pc.value_counts(pc.filter(encoded, mask).dictionary_decode()).to_pylist()
    counts.sort(key=lambda c: -c["counts"])
    return {
        "unmatched": int(pc.sum(mask).as_py() or 0),
        "unmatched_paths": [(c["values"], c["counts"]) for c in counts[: TOP_UNMATCHED * 100]],
    }


def heuristic_templates(paths: pa.Array) -> pa.Array:
    """Collapse identifier-like segments of each path (see the module docstring).

    Every class needs a digit, so only segments holding one are examined.
    """
    segments = pc.split_pattern(paths, "/")
    flat = pc.list_flatten(segments)
    candidate = pc.fill_null(pc.match_substring_regex(flat, "[0-9]"), False)
    if pc.any(candidate).as_py():
        flat = pc.replace_with_mask(flat, candidate, _template_segments(pc.filter(flat, candidate)))
    offsets = segments.offsets
    if segments.offset:
        offsets = pc.subtract(offsets, offsets[0])
    rebuilt = pa.ListArray.from_arrays(offsets, flat, mask=segments.is_null())
    return pc.binary_join(rebuilt, "/")


def _template_segments(flat: pa.Array) -> pa.Array:
    """Labels for segments holding a digit: pure numbers first (no regex), then the rest."""
    number = pc.fill_null(pc.ascii_is_decimal(flat), False)
    out = pc.if_else(number, "{id}", flat)
    rest = pc.invert(number)
    if pc.any(rest).as_py():
        out = pc.replace_with_mask(out, rest, _classify_segments(pc.filter(flat, rest)))
    return out


def _classify_segments(flat: pa.Array) -> pa.Array:
    out = flat
    for pattern, label in SEGMENTS:
        if label is not None:
            out = pc.replace_substring_regex(out, pattern, label)
    untouched = pc.equal(out, flat)
    lengths = pc.utf8_length(flat)
    hexish = pc.and_(
        pc.match_substring_regex(flat, SEGMENTS[3][0]), pc.greater_equal(lengths, HASH_MIN_CHARS)
    )
    tokenish = pc.and_(
        pc.match_substring_regex(flat, SEGMENTS[4][0]), pc.greater_equal(lengths, TOKEN_MIN_CHARS)
    )
    out = pc.if_else(pc.and_(untouched, hexish), "{hash}", out)
    out = pc.if_else(pc.and_(untouched, pc.and_(tokenish, pc.invert(hexish))), "{token}", out)
    has_letter = pc.match_substring_regex(flat, "[A-Za-z]")
    codeish = pc.and_(pc.match_substring_regex(flat, CODE), has_letter)
    still = pc.equal(out, flat)
    return pc.if_else(pc.and_(still, codeish), "{code}", out)


def cap_routes(route: pd.Series, cap: int = ROUTE_CAP) -> tuple[pd.Series, dict[str, Any]]:
    """Keep the `cap` most requested routes of a categorical `route`; the rest become `OTHER`.

    Ties go to the route first in sort order, so the result does not depend on
    the order of the log. Returns the routes and what was collapsed
    (``routes`` kept, ``other_routes`` and ``other_requests`` collapsed; empty
    when nothing was). Works on the distinct routes, never per request.
    """
    codes = route.cat.codes.to_numpy()
    names = route.cat.categories
    counts = np.bincount(codes[codes >= 0], minlength=len(names))
    used = np.flatnonzero(counts)
    if len(used) <= cap:
        return route, {}
    order = np.argsort(np.asarray(names[used], dtype=object), kind="stable")
    order = order[np.argsort(-counts[used][order], kind="stable")]
    kept = used[order[:cap]]
    recode = np.full(len(names), cap, dtype=np.int64)  # every other route: OTHER
    recode[kept] = np.arange(cap)
    new_codes = np.where(codes >= 0, recode[np.maximum(codes, 0)], -1)
    categories = pd.Index([*names[kept], OTHER], dtype=names.dtype)
    capped = pd.Series(
        pd.Categorical.from_codes(new_codes, categories), index=route.index, name=route.name
    )
    other_requests = int(counts.sum() - counts[kept].sum())
    return capped, {"routes": cap, "other_routes": len(used) - cap,
                    "other_requests": other_requests, "cap": cap}  # fmt: skip
