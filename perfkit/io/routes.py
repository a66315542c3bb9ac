"""Request paths -> route templates, so per-endpoint statistics group correctly.

Given Flask rules (an app, a `werkzeug.routing.Map`, or rule strings such as
``/orders/<int:order_id>``) each path gets the first rule that matches it,
static rules before dynamic ones as Werkzeug orders them; paths no rule
matches are inferred as below (``unmatched="infer"``, the default) or get
`UNMATCHED` (``unmatched="label"``). Without rules, routes are inferred:

1. by shape, every path segment that is an identifier collapses: numbers
   ``{id}``, UUIDs ``{uuid}``, hex hashes ``{hash}``, dates ``{date}``, long
   opaque tokens ``{token}``, business codes holding a run of three or more
   digits (``SKU-001173``) ``{code}`` and e-mail addresses (also ``%40``)
   ``{email}`` (personal data: always, however rare);
2. from the data, level by level down a prefix tree of the distinct paths
   with their request counts (as log-template miners such as Drain do): at a
   node below the first level, the children that are many (`MIN_VALUES`
   distinct or more) and mostly rare, or mostly not plain words (and twice
   as many or partly rare), or `MANY_VALUES`, become one parameter,
   named by their shape (``{code}``, ``{slug}``, ``{file}``, else
   ``{param}``). Plain words stay literal when they are `KNOWN_WORDS`
   (``new``, ``export``, ``v1``), literal in another branch, or carry
   `HOT_SHARE` of the node's requests with tails (next segments) its
   collapsed siblings never have. What was inferred is listed in the info's
   ``inferred``.

All matching is done once per distinct path, with RE2 over Arrow arrays; the
inference works on the distinct-path table, never per request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

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
SEGMENTS: tuple[tuple[str, str | None], ...] = (
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


_PARAM_SEGMENT = re.compile(r"^\{[a-z]+\}$")


def rules_from_labels(labels: Iterable[str]) -> list[Rule]:
    """Rules whose labels are the given route labels (inferred ones: ``/user/{param}``).

    Lets other paths (profile dumps, outbound calls) be labelled exactly as a
    requests frame was: ``route_labels(paths, rules_from_labels(
    df["route"].cat.categories))``. A ``{name}`` segment matches one path
    segment; literal segments match themselves, and win over parameters as
    Werkzeug's static rules do. Flask rules among the labels (a frame read
    with a partial ``routes=``) are compiled as rules. `UNMATCHED` and
    `OTHER` are skipped.
    """
    rules = []
    for label in dict.fromkeys(str(x) for x in labels):
        if label in (UNMATCHED, OTHER):
            continue
        if _VARIABLE.search(label):  # a Flask rule the frame was read with
            rules.append(compile_rule(label))
            continue
        parts = label.split("/")
        params = [bool(_PARAM_SEGMENT.match(p)) for p in parts]
        pattern = "/".join(
            "[^/]+" if q else re.escape(p) for p, q in zip(parts, params, strict=True)
        )
        static = sum(len(p) for p, q in zip(parts, params, strict=True) if not q)
        rules.append(Rule(label, f"^{pattern}$", (0, sum(params), -static)))
    return sorted(rules, key=lambda r: r.order)


def route_labels(
    paths: pa.Array,
    rules: list[Rule] | None = None,
    unmatched: str = "infer",
    infer: bool = True,
) -> tuple[pa.DictionaryArray, dict[str, Any]]:
    """Route label per path (dictionary-encoded) and how they were found.

    `paths`: strings, or already dictionary-encoded (distinct values). `rules` come
    from `rules_from`; None infers routes (module docstring).
    With rules, paths no rule matches are inferred (``unmatched="infer"``)
    or labelled `UNMATCHED` (``"label"``); the info counts the requests no
    rule matched and their paths (most frequent `TOP_UNMATCHED`, e-mails
    masked), for `merge_route_info` to combine across blocks. The info's
    ``inferred`` lists the parameters inferred from the data
    (`infer_templates`). `infer=False` applies the shape classes only (a
    block of a bigger log, inferred as a whole later by `infer_routes`).
    """
    if unmatched not in ("infer", "label"):
        raise InputError(f"unmatched must be 'infer' or 'label', not {unmatched!r}")
    encoded = paths if pa.types.is_dictionary(paths.type) else pc.dictionary_encode(paths)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    if infer and len(paths) > 100_000:  # the encoder's hash table back to the system before the
        pa.default_memory_pool().release_unused()  # inference allocates (bounds the peak)
    distinct = encoded.dictionary
    inferred: list[dict[str, Any]] = []
    if rules is None:
        if infer:
            counts = np.bincount(pc.drop_null(encoded.indices).to_numpy(), minlength=len(distinct))
            labels, table = infer_templates(distinct, counts)
            inferred = cast("list[dict[str, Any]]", table.to_dict("records"))
        else:
            labels = heuristic_templates(distinct)
    else:
        labels = _match_rules(distinct, rules)
    label_codes = pc.dictionary_encode(labels)
    indices = pc.take(label_codes.indices, encoded.indices)
    result = pa.DictionaryArray.from_arrays(indices, label_codes.dictionary)
    info: dict[str, Any] = {
        "source": "heuristic" if rules is None else "rules",
        "requests": len(paths),
    }
    if rules is not None:
        info.update(_unmatched(result, encoded))
        if infer and unmatched == "infer" and info["unmatched"]:
            result, inferred = _infer_unmatched(result, encoded)
    if infer:
        info["inferred"] = inferred
    return result, info


def _infer_unmatched(
    result: pa.DictionaryArray, encoded: pa.DictionaryArray
) -> tuple[pa.DictionaryArray, list[dict[str, Any]]]:
    """`result` with its `UNMATCHED` requests relabelled by inference over their paths."""
    labels = result.dictionary_decode()
    mask = pc.fill_null(pc.equal(labels, UNMATCHED), False)
    sub = pc.filter(encoded, mask)
    sub_distinct = pc.dictionary_encode(sub.dictionary_decode())
    counts = np.bincount(
        pc.drop_null(sub_distinct.indices).to_numpy(), minlength=len(sub_distinct.dictionary)
    )
    templates, table = infer_templates(sub_distinct.dictionary, counts)
    new = pc.take(templates, sub_distinct.indices)
    labels = pc.replace_with_mask(labels, mask, new)
    return pc.dictionary_encode(labels), cast("list[dict[str, Any]]", table.to_dict("records"))


def infer_routes(
    path: pd.Series,
    route: pd.Series,
    rules: list[Rule] | None,
    unmatched: str = "infer",
    encoded: Sequence[pa.DictionaryArray] | None = None,
) -> tuple[pd.Series, list[dict[str, Any]]]:
    """A whole log's ``route`` with inferred routes, and what was inferred.

    Without rules every request's route is inferred from all the log's
    distinct paths at once (so a block or file boundary changes nothing);
    with rules only the requests labelled `UNMATCHED` are, from their own
    paths, unless `unmatched` is ``"label"``. Works on the distinct paths.
    `encoded`: the paths already dictionary-encoded piece by piece (the
    blocks of a read, in the frame's order), which saves encoding them again.
    """
    if unmatched not in ("infer", "label"):
        raise InputError(f"unmatched must be 'infer' or 'label', not {unmatched!r}")
    if rules is not None and (unmatched == "label" or UNMATCHED not in route.cat.categories):
        return route, []
    if rules is None and encoded is not None and sum(map(len, encoded)) == len(path):
        labels, info = route_labels(unify_dictionaries(encoded), None)
    elif rules is None:
        paths = pa.array(path.array, pa.large_string()).cast(pa.string())
        if isinstance(paths, pa.ChunkedArray):  # a log of several blocks
            paths = paths.combine_chunks()
        labels, info = route_labels(paths, None)
    else:
        paths = pa.array(path.array, pa.large_string()).cast(pa.string())
        if isinstance(paths, pa.ChunkedArray):
            paths = paths.combine_chunks()
        current = pa.array(route.astype(object).to_numpy(), pa.string(), from_pandas=True)
        encoded = pc.dictionary_encode(paths)
        labels, inferred = _infer_unmatched(pc.dictionary_encode(current), encoded)
        info = {"inferred": inferred}
    categorical = pd.Categorical.from_codes(
        pc.fill_null(labels.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64),
        pd.Index(labels.dictionary.to_pylist(), dtype=object),
    )
    out = pd.Series(categorical, index=route.index, name=route.name)
    return out, info["inferred"]


def unify_dictionaries(pieces: Sequence[pa.DictionaryArray]) -> pa.DictionaryArray:
    """Dictionary-encoded pieces laid end to end as one array over one dictionary of
    distinct values (in order of first appearance, as `pyarrow.compute.dictionary_encode`
    gives them)."""
    if not pieces:
        return pa.DictionaryArray.from_arrays(pa.array([], pa.int32()), pa.array([], pa.string()))
    values = pa.concat_arrays([p.dictionary.cast(pa.string()) for p in pieces])
    merged = pc.dictionary_encode(values)  # each piece's distinct values -> one code each
    codes = merged.indices
    out: list[pa.Array] = []
    start = 0
    for piece in pieces:
        size = len(piece.dictionary)
        out.append(pc.take(codes.slice(start, size), piece.indices))
        start += size
    indices = pa.concat_arrays(out) if len(out) > 1 else out[0]
    return pa.DictionaryArray.from_arrays(indices.cast(pa.int32()), merged.dictionary)


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
        "unmatched_paths": [
            (_EMAIL_IN_PATH.sub("{email}", c["values"]), c["counts"])
            for c in counts[: TOP_UNMATCHED * 100]
        ],
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


EMAIL = r"(?i)^[^/@]+(?:@|%40)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}$"
_EMAIL_IN_PATH = re.compile(
    r"(?i)(?<=/)[^/@?#]+(?:@|%40)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?=/|$)"
)
MIN_VALUES = 8  # distinct values below a node before it can be a parameter
MANY_VALUES = 64  # ... and this many are a parameter whatever their traffic
RARE_REQUESTS = 2  # a value this rare (or under a quarter of the mean) is rare
HOT_SHARE = 0.05  # a plain word with this share of its node and tails of its own stays literal
MAX_DEPTH = 32  # segments deeper than this keep their shape labels
KNOWN_WORDS = frozenset(
    [
        "new",
        "edit",
        "create",
        "delete",
        "remove",
        "update",
        "search",
        "export",
        "import",
        "settings",
        "profile",
        "login",
        "logout",
        "register",
        "signup",
        "signin",
        "me",
        "all",
        "latest",
        "top",
        "popular",
        "recent",
        "stats",
        "static",
        "api",
        "admin",
        "health",
        "metrics",
        "feed",
        "upload",
        "download",
        "list",
        "count",
        "bulk",
        "batch",
        "config",
        "status",
        "help",
        "about",
        "index",
        "assets",
        "media",
        "public",
        "images",
        "img",
        "css",
        "js",
        "fonts",
    ]
)
_STRINGY = ("{code}", "{token}", "{hash}")  # shape classes an inferred parameter absorbs
_PLAIN = r"^[a-z]+$"  # a plain word: usernames like dana_wagner13 or slugs are not
_WORDISH = r"^[a-z][a-z_-]*$"  # may stay literal beside a parameter
_VERSION = r"^v[0-9]+(?:\.[0-9]+)*$"
# an inferred parameter's name: the shape most of its values have
_NAMES: tuple[tuple[str, str], ...] = (
    ("{file}", r"^[^.]+(?:\.[^.]+)*\.[A-Za-z][A-Za-z0-9]{0,4}$"),
    ("{code}", r"^[A-Z0-9]+(?:[-_.:][A-Z0-9]+)*$"),
    ("{slug}", r"^[a-z0-9]+(?:-[a-z0-9]+)+$"),
)
INFERRED_COLUMNS = ["depth", "prefix", "template", "values", "requests", "kept"]


def shape_templates(segments: pa.Array) -> pa.Array:
    """Each path segment's shape label (``{id}``, ``{email}``, ...) or the segment itself."""
    out = segments
    digit = pc.fill_null(pc.match_substring_regex(segments, "[0-9]"), False)
    if pc.any(digit).as_py():
        out = pc.replace_with_mask(out, digit, _template_segments(pc.filter(segments, digit)))
    email = pc.fill_null(pc.match_substring_regex(segments, EMAIL), False)
    return pc.if_else(email, "{email}", out)


def infer_templates(
    paths: pa.Array, counts: np.ndarray | None = None
) -> tuple[pa.Array, pd.DataFrame]:
    """Route template per distinct path, by shape then from the data, and what was inferred.

    `paths` are distinct, `counts` their requests (1 each by default). The
    frame lists each inferred parameter: ``depth`` (segment, 1 the first),
    ``prefix`` (the template above it), ``template``, ``values`` (distinct
    values collapsed), ``requests`` and ``kept`` (words kept literal beside
    it; never a collapsed value, so never personal data).
    """
    n = len(paths)
    counts = np.ones(n, np.int64) if counts is None else np.asarray(counts, np.int64)
    segs = pc.split_pattern(paths, "/")
    lengths = pc.fill_null(pc.list_value_length(segs), 0).to_numpy(zero_copy_only=False)
    lengths = lengths.astype(np.int64)
    offsets = np.asarray(segs.offsets, dtype=np.int64)
    starts = offsets[:-1] - offsets[0]
    flat = pc.list_flatten(segs)
    enc = pc.dictionary_encode(flat)
    seg_codes = enc.indices.to_numpy(zero_copy_only=False)  # int32, as Arrow wrote them
    values = enc.dictionary
    shapes = shape_templates(values)
    shaped = pc.not_equal(shapes, values).to_numpy(zero_copy_only=False)
    vocab = _Vocab(values)  # the distinct segments stay in Arrow; only new labels are Python
    code_of = vocab.code_of
    base = np.arange(len(values), dtype=np.int64)
    where = np.flatnonzero(shaped)
    if len(where):  # the shape labels ({id}, {hash}...) are few: number each once, then map
        shape_codes = pc.dictionary_encode(shapes.take(pa.array(where)))
        numbered = np.array([code_of(s) for s in shape_codes.dictionary.to_pylist()], np.int64)
        base[where] = numbered[shape_codes.indices.to_numpy(zero_copy_only=False)]
    stringy = ~shaped | pc.is_in(shapes, pa.array(_STRINGY)).to_numpy(zero_copy_only=False)
    stringy &= pc.not_equal(values, "").to_numpy(zero_copy_only=False)

    def flag(pattern: str) -> np.ndarray:
        matched: np.ndarray = pc.fill_null(
            pc.match_substring_regex(values, pattern), False
        ).to_numpy(zero_copy_only=False)
        return matched

    plain, wordish = flag(_PLAIN), flag(_WORDISH)
    known = flag(_VERSION) | pc.is_in(values, pa.array(sorted(KNOWN_WORDS))).to_numpy(
        zero_copy_only=False
    )
    name_of = np.full(len(values), len(_NAMES), dtype=np.int64)  # default {param}
    for k in range(len(_NAMES) - 1, -1, -1):
        name_of[flag(_NAMES[k][1])] = k
    fixed = known.copy()

    depth = int(min(lengths.max(initial=0), MAX_DEPTH))
    raw = np.full((n, depth), -1, dtype=np.int32)  # codes < 2**31: half the memory
    for j in range(depth):
        rows = lengths > j
        raw[rows, j] = seg_codes[starts[rows] + j]
    labels = np.where(raw >= 0, base[np.maximum(raw, 0)], -1).astype(np.int32)
    node = np.zeros(n, dtype=np.int64)
    records: list[dict[str, Any]] = []
    for j in range(1, depth):
        node = pd.factorize(node * (1 << 32) + labels[:, j - 1] + 1)[0].astype(np.int64)
        if j < 2:  # the first level (and scanners' junk there) is never a parameter
            continue
        active = np.flatnonzero((lengths > j) & stringy[np.maximum(raw[:, j], 0)])
        if not len(active):
            continue
        records += _infer_level(
            j, active, node, raw, labels, counts, lengths,
            (plain, wordish, known, fixed, name_of), vocab, code_of,
        )  # fmt: skip
    flat_codes = base[seg_codes]
    for j in range(depth):
        rows = np.flatnonzero(lengths > j)
        flat_codes[starts[rows] + j] = labels[rows, j]
    label_flat = vocab.array().take(pa.array(flat_codes))
    new_offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    rebuilt = pa.ListArray.from_arrays(new_offsets, label_flat, mask=segs.is_null())
    table = pd.DataFrame(records, columns=INFERRED_COLUMNS)
    return pc.binary_join(rebuilt, "/"), table


class _Vocab:
    """The distinct path segments (an Arrow array, not copied into Python objects) followed by
    the labels inference adds: `code_of` numbers a new label, ``vocab[code]`` reads any word."""

    def __init__(self, values: pa.Array) -> None:
        self.values = values
        self.base = len(values)
        self.extra: list[str] = []
        self.index: dict[str, int] = {}

    def code_of(self, label: str) -> int:
        if label not in self.index:
            self.index[label] = self.base + len(self.extra)
            self.extra.append(label)
        return self.index[label]

    def __getitem__(self, code: int) -> str:
        code = int(code)
        if code >= self.base:
            return self.extra[code - self.base]
        return str(self.values[code].as_py())

    def array(self) -> pa.Array:
        """Every word in code order, as one Arrow string array."""
        return pa.concat_arrays([self.values.cast(pa.string()), pa.array(self.extra, pa.string())])


def _infer_level(
    j: int,
    active: np.ndarray,
    node: np.ndarray,
    raw: np.ndarray,
    labels: np.ndarray,
    counts: np.ndarray,
    lengths: np.ndarray,
    flags: tuple[np.ndarray, ...],
    vocab: _Vocab,
    code_of: Callable[[str], int],
) -> list[dict[str, Any]]:
    """Decide the parameters at segment `j`; relabel `labels[:, j]` in place; their records."""
    plain, wordish, known, fixed, name_of = flags
    pairs = cast(
        pd.DataFrame,
        (  # as_index=False: a frame, not a Series
            pd.DataFrame({"node": node[active], "raw": raw[active, j], "req": counts[active]})
            .groupby(["node", "raw"], sort=False, as_index=False)["req"]
            .sum()
        ),
    )
    per = pairs.groupby("node", sort=False)["req"].agg(["size", "sum"])
    mean = per["sum"] / per["size"]
    pairs["rare"] = (pairs["req"] <= RARE_REQUESTS) | (
        pairs["req"] <= 0.25 * pairs["node"].map(mean)
    )
    pairs["nonplain"] = ~plain[pairs["raw"].to_numpy()]
    frac = pairs.groupby("node", sort=False)[["rare", "nonplain"]].mean()
    k = per["size"]
    # not plain words (dana_wagner13, A-11-07, how-to-x): a parameter when there are twice
    # MIN_VALUES or some are rare; a dozen hyphenated pages each visited often stay pages
    unlike = (frac["nonplain"] >= 0.5) & ((k >= 2 * MIN_VALUES) | (frac["rare"] >= 0.25))
    param = (k >= MIN_VALUES) & ((k >= MANY_VALUES) | (frac["rare"] >= 0.5) | unlike)
    in_param = pairs["node"].map(param).to_numpy(dtype=bool)
    r = pairs["raw"].to_numpy()
    fixed[r[~in_param & wordish[r]]] = True  # literal here: a fixed word elsewhere
    if not in_param.any():
        return []
    keep = in_param & wordish[r] & (fixed[r] | known[r])
    keep |= in_param & known[r]
    share = pairs["req"] / pairs["node"].map(per["sum"])
    hot = in_param & ~keep & wordish[r] & (share >= HOT_SHARE).to_numpy()
    hot &= ~pairs["rare"].to_numpy()
    rest = in_param & ~keep & ~hot
    if hot.any() and rest.any():
        keep |= _own_tails(j, active, node, raw, labels, lengths, pairs, rest, hot)
    collapse = in_param & ~keep
    pairs["collapse"] = collapse
    records: list[dict[str, Any]] = []
    node_label: dict[int, int] = {}
    for nid, group in pairs[in_param].groupby("node", sort=False):
        gone = group[group["collapse"]]
        if gone.empty:
            continue
        votes = np.bincount(name_of[gone["raw"].to_numpy()], minlength=len(_NAMES) + 1)
        best = int(np.argmax(votes[:-1]))
        name = _NAMES[best][0] if votes[best] * 2 > len(gone) else "{param}"
        node_label[int(cast(int, nid))] = code_of(name)
        row = active[node[active] == nid][0]
        prefix = "/".join(vocab[c] for c in labels[row, :j]) or "/"
        records.append({
            "depth": j, "prefix": prefix, "template": f"{prefix}/{name}",
            "values": len(gone), "requests": int(gone["req"].sum()),
            "kept": sorted(vocab[c] for c in group.loc[~group["collapse"], "raw"]),
        })  # fmt: skip
    keys = pd.MultiIndex.from_arrays([pairs["node"], pairs["raw"]])
    hit = keys.get_indexer(pd.MultiIndex.from_arrays([node[active], raw[active, j]]))
    rows = active[collapse[hit]]
    labels[rows, j] = pd.Series(node[rows]).map(node_label).to_numpy(dtype=np.int64)
    return records


def _own_tails(
    j: int,
    active: np.ndarray,
    node: np.ndarray,
    raw: np.ndarray,
    labels: np.ndarray,
    lengths: np.ndarray,
    pairs: pd.DataFrame,
    rest: np.ndarray,
    hot: np.ndarray,
) -> np.ndarray:
    """Hot pairs whose next segments include one no collapsed sibling has."""
    nxt = np.where(lengths[active] > j + 1, labels[active, min(j + 1, labels.shape[1] - 1)], -2)
    tails = pd.DataFrame({"node": node[active], "raw": raw[active, j], "next": nxt})
    tails = tails.drop_duplicates()
    rest_keys = set(zip(pairs.loc[rest, "node"], pairs.loc[rest, "raw"], strict=True))
    sibling = {(a, c) for a, b, c in tails.itertuples(index=False) if (a, b) in rest_keys}
    own = tails.groupby(["node", "raw"])["next"].agg(set)
    out = np.zeros(len(pairs), dtype=bool)
    for i in np.flatnonzero(hot):
        a, b = pairs.at[i, "node"], pairs.at[i, "raw"]
        out[i] = any((a, c) not in sibling for c in own.get((a, b), ()))
    return out


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
