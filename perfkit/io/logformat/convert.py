"""Raw text fields of access-log lines -> typed Arrow columns, with reasons for rejects.

Both parsing paths (Arrow's CSV tokenizer and the RE2 extractor) hand over
raw string columns named after their fields; this module validates them
against their `Kind`, converts them, and marks rows it must reject with the
first reason that applies. Work on repeated values (times, request lines,
offsets) is done once per distinct value through dictionary encoding.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfkit.io.logformat import strftime
from perfkit.io.logformat.fields import DURATION_KINDS, KINDS, MS_PER_UNIT, UNESCAPE, Field
from perfkit.io.logformat.spec import OFFSET_SUFFIX

CLF_TIME = "%d/%b/%Y:%H:%M:%S %z"
CLF_LOCAL = "%d/%b/%Y:%H:%M:%S"
_OFFSET = re.compile(r"^[+-]\d{4}$")
STRING_KINDS = ("client", "user", "referrer", "user_agent", "protocol", "extra", "extra_word",
                "extra_opt")  # fmt: skip
# how a server's text fields are read: (values, server) -> values
_Text = Callable[[pa.Array, str], pa.Array]
_METHOD = r"^[A-Za-z][A-Za-z_-]{0,19}$"
_PROTOCOL = r"^HTTP/\d(?:\.\d)?$"


@dataclass
class Rejects:
    """Per-row reason codes (0 = kept) and the reasons they stand for."""

    n: int
    codes: np.ndarray = field(init=False)
    reasons: list[str] = field(default_factory=lambda: [""])

    def __post_init__(self) -> None:
        self.codes = np.zeros(self.n, dtype=np.int32)

    def add(self, bad: pa.Array | np.ndarray, reason: str) -> None:
        """Mark rows where `bad` is true (nulls count as false) unless already marked."""
        mask = _np_bool(bad)
        if not mask.any():
            return
        self.reasons.append(reason)
        self.codes[mask & (self.codes == 0)] = len(self.reasons) - 1

    @property
    def ok(self) -> np.ndarray:
        kept: np.ndarray = self.codes == 0
        return kept


@dataclass
class Converted:
    """Typed columns of one block of lines, aligned with its rows, and its rejects."""

    columns: dict[str, pa.Array]
    rejects: Rejects
    offsets_s: set[int]  # UTC offsets the log's times carried, in seconds


def convert(
    raw: dict[str, pa.Array],
    kinds: dict[str, str],
    server: str,
    tz: str | None,
    rejects: Rejects | None = None,
    plain: bool = False,
    fields: Mapping[str, Field] | None = None,
) -> Converted:
    """Validate and type `raw` columns (field name -> strings) of one block.

    `kinds` maps each raw field name to its kind; `server` decides escapes;
    `tz` is the zone of times that carry no offset (default UTC). `plain`
    says the tokenizer already turned '-' into nulls and saw no escapes.
    `fields` (raw name -> `Field`) gives the patterns and arguments of fields
    that override their kind's (Apache strftime times, status conditions).
    """
    fields = fields or {}
    n = len(next(iter(raw.values())))
    rejects = rejects if rejects is not None else Rejects(n)
    by_kind: dict[str, str] = {}
    for name, kind in kinds.items():
        by_kind.setdefault(kind, name)
        spec = fields[name].spec if name in fields else KINDS[kind]
        if spec.strict and name in raw and pa.types.is_string(raw[name].type):
            valid = pc.fill_null(pc.match_substring_regex(raw[name], f"^(?:{spec.pattern})$"), True)
            if not pc.all(valid).as_py():
                rejects.add(pc.invert(valid), f"{name}: expected {spec.expected}")
                raw[name] = pc.if_else(valid, raw[name], pa.scalar(None, pa.string()))
    out: dict[str, pa.Array] = {}
    offsets: set[int] = set()
    if set(kinds.values()) & APACHE_TIME_KINDS:
        out["time"], offsets = apache_time(raw, kinds, fields, tz, rejects)
    else:
        out["time"], offsets = _time(raw, by_kind, tz, rejects)
    text = _plain if plain else _text
    out.update(_request(raw, by_kind, server, text))
    optional = {name for name, f in fields.items() if f.optional}
    out.update(_numbers(raw, by_kind, rejects, optional))
    for name, kind in kinds.items():
        if kind in STRING_KINDS and name in raw:
            column = "client" if kind == "client" else name
            values = text(raw[name], server)
            if kind in OPAQUE_KINDS and len(values):  # headers, variables: data, maybe personal
                values = _opaque_redacted(values)
            out.setdefault(column, values)
    return Converted(out, rejects, offsets)


OPAQUE_KINDS = ("extra", "extra_word", "extra_opt")
# an e-mail address (personal data: an SSL client DN's, a header's) in an opaque field
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"


def _opaque_redacted(values: pa.Array) -> pa.Array:
    """Opaque string values with e-mail addresses and URL credentials masked (per distinct
    value)."""
    from perfkit.io.redact import MASK, redact_urls

    encoded = _dictionary(redact_urls(values))
    return pc.take(pc.replace_substring_regex(encoded.dictionary, _EMAIL, MASK), encoded.indices)


# pandas' nanosecond range in whole seconds since 1970 (1677-09-21T00:12:44 to
# 2262-04-11T23:47:15 UTC): a time outside it cannot be held, so its line is rejected.
MIN_S = -9_223_372_036
MAX_S = 9_223_372_035
OUT_OF_RANGE = "out of range (expected a time between 1677-09-21 and 2262-04-11)"
_NAT = np.iinfo(np.int64).min


def _time(
    raw: dict[str, pa.Array], by_kind: dict[str, str], tz: str | None, rejects: Rejects
) -> tuple[pa.Array, set[int]]:
    n = rejects.n
    if "time_clf" in by_kind:
        name = by_kind["time_clf"]
        if name + OFFSET_SUFFIX in raw:  # the tokenizer split it at its space
            return _clf_halves(raw[name], raw[name + OFFSET_SUFFIX], name, rejects)
        rejects.add(pc.is_null(raw[name]), f"{name}: missing")
        values = _dictionary(raw[name])  # validated: 'dd/Mon/yyyy:HH:MM:SS +hhmm' or null
        local = pa.DictionaryArray.from_arrays(
            values.indices, pc.utf8_slice_codeunits(values.dictionary, 0, 20)
        )
        offset = pa.DictionaryArray.from_arrays(
            values.indices, pc.utf8_slice_codeunits(values.dictionary, -5)
        )
        return _clf_halves(local, offset, name, rejects)
    if "time_iso" in by_kind:
        name = by_kind["time_iso"]
        values = _dictionary(raw[name])
        stamps_u, outside_u, offsets = _iso(values.dictionary, tz)
        impossible = [t is not None and not _possible_iso(t) for t in values.dictionary.to_pylist()]
        rejects.add(pc.take(pa.array(impossible, pa.bool_()), values.indices),
                    f"{name}: {BAD_OFFSET}")  # fmt: skip
        stamps_u = pc.if_else(pa.array(impossible, pa.bool_()), pa.scalar(None, stamps_u.type),
                              stamps_u)  # fmt: skip
        offsets = {o for o in offsets if abs(o) <= 14 * 3600}
        rejects.add(pc.take(pa.array(outside_u), values.indices), f"{name}: {OUT_OF_RANGE}")
        stamps = pc.take(stamps_u, values.indices)
        rejects.add(
            pc.and_(pc.is_null(stamps), pc.is_valid(raw[name])),
            f"{name}: expected a valid ISO 8601 time",
        )
        rejects.add(pc.is_null(raw[name]), f"{name}: missing")
        return stamps, offsets
    if "time_epoch" in by_kind:
        name = by_kind["time_epoch"]
        seconds = pc.cast(raw[name], pa.float64())
        seconds = pc.if_else(pc.greater(seconds, 1e11), pc.divide(seconds, 1000.0), seconds)
        seconds = _in_range(seconds, name, rejects)
        ns = pc.cast(pc.round(pc.multiply(seconds, 1e9)), pa.int64())
        rejects.add(pc.is_null(raw[name]), f"{name}: missing")
        return ns.cast(pa.timestamp("ns", "UTC")), set()
    rejects.add(np.ones(n, bool), "the format has no time field")
    return pa.nulls(n, pa.timestamp("ns", "UTC")), set()


def _in_range(seconds: pa.Array, name: str, rejects: Rejects | None) -> pa.Array:
    """`seconds` since 1970 with those outside pandas' range rejected (when `rejects` is
    given) and nulled."""
    outside = pc.or_(pc.less(seconds, MIN_S), pc.greater(seconds, MAX_S))
    if rejects is not None:
        rejects.add(outside, f"{name}: {OUT_OF_RANGE}")
    return pc.if_else(pc.fill_null(outside, False), pa.scalar(None, seconds.type), seconds)


def _clf_halves(
    local: pa.DictionaryArray, offset: pa.DictionaryArray, name: str, rejects: Rejects
) -> tuple[pa.Array, set[int]]:
    """CLF times from their date-time and offset halves (dictionaries), both paths alike.

    A date-time must read back as written: strptime would roll 31 Feb over to 2 Mar.
    """
    parsed = pc.strptime(local.dictionary, format=CLF_LOCAL, unit="s", error_is_null=True)
    same = _reads_back(local.dictionary, parsed)
    parsed = pc.if_else(pc.fill_null(same, False), parsed, pa.scalar(None, parsed.type))
    texts = offset.dictionary.to_pylist()
    seconds = [_offset_s(t) if t is not None and _OFFSET.match(t) else None for t in texts]
    impossible = [t is not None and _OFFSET.match(t) is not None and not _possible(t)
                  for t in texts]  # fmt: skip
    rejects.add(pc.take(pa.array(impossible, pa.bool_()), offset.indices),
                f"{name}: {BAD_OFFSET}")  # fmt: skip
    seconds = [None if bad else s for s, bad in zip(seconds, impossible, strict=True)]
    if len(seconds) == 1 and seconds[0] is not None and offset.null_count == 0:  # one zone
        zone_s = pa.scalar(seconds[0], pa.int64())
        utc_d = _in_range(pc.subtract(parsed.cast(pa.int64()), zone_s), name, None)
        outside = pc.and_(pc.is_valid(parsed), pc.is_null(utc_d))
        rejects.add(pc.take(outside, local.indices), f"{name}: {OUT_OF_RANGE}")
        ns = pc.multiply(utc_d, 1_000_000_000).cast(pa.timestamp("ns", "UTC"))
        stamps = pc.take(ns, local.indices)
    else:
        local_s = pc.take(parsed.cast(pa.int64()), local.indices)
        offset_s = pc.take(pa.array(seconds, pa.int64()), offset.indices)
        utc_s = _in_range(pc.subtract(local_s, offset_s), name, rejects)
        stamps = pc.multiply(utc_s, 1_000_000_000).cast(pa.timestamp("ns", "UTC"))
    rejects.add(pc.is_null(stamps), f"{name}: expected a valid date and time")
    # the offsets rows carry, not every dictionary entry: the tokenizer's dictionary keeps the
    # words of rows it dropped for the exact path (a zone seen only on a rejected line)
    used = pc.unique(pc.drop_null(offset.indices)).to_pylist()
    return stamps, {seconds[i] for i in used if seconds[i] is not None}


_CLF_SHAPE = r"^\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d$"
_MONTHS = pa.array(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                    "dec"])  # fmt: skip
# (start, stop) of each number in a CLF date-time, and its component of the parsed time
_CLF_NUMBERS = ((0, 2, pc.day), (7, 11, pc.year), (12, 14, pc.hour), (15, 17, pc.minute),
                (18, 20, pc.second))  # fmt: skip


def _reads_back(texts: pa.Array, parsed: pa.Array) -> pa.Array:
    """Whether each CLF date-time `texts` is written as `parsed` would be (month names in
    any case): strptime alone rolls 31 Feb over to 3 Mar and 23:59:60 into the next day.
    The same test as comparing with strftime's text, by the numbers (about 10x faster)."""
    same = pc.match_substring_regex(texts, _CLF_SHAPE)
    shaped = pc.if_else(same, texts, "00/Jan/0000:00:00:00")  # digits where numbers are read
    month = pc.index_in(pc.utf8_lower(pc.utf8_slice_codeunits(shaped, 3, 6)), _MONTHS)
    same = pc.and_(same, pc.equal(pc.add(month, 1), pc.month(parsed)))
    for start, stop, part in _CLF_NUMBERS:
        number = pc.utf8_slice_codeunits(shaped, start, stop).cast(pa.int64())
        same = pc.and_(same, pc.equal(number, part(parsed)))
    return same


def _iso(values: pa.Array, tz: str | None) -> tuple[pa.Array, np.ndarray, set[int]]:
    """Parse distinct ISO 8601 strings; naive ones are read in `tz` (default UTC).

    Returns the times (null where invalid or out of range), which were out of
    pandas' range, and the UTC offsets (s) the strings carried.
    """
    text = pd.Series(values.to_pandas(), dtype=object)
    naive = ~text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True, na=False)
    result = np.full(len(text), _NAT, dtype=np.int64)
    outside = np.zeros(len(text), dtype=bool)
    if (~naive).any():
        aware = pd.to_datetime(text[~naive], format="ISO8601", utc=True, errors="coerce")
        result[~naive.to_numpy()], outside[~naive.to_numpy()] = _utc_ns(aware)
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        if not isinstance(local.dtype, pd.DatetimeTZDtype):
            local = local.dt.tz_localize(tz or "UTC", ambiguous="NaT", nonexistent="NaT")
        result[naive.to_numpy()], outside[naive.to_numpy()] = _utc_ns(local)
    offsets = {_offset_s(s[-6:].replace(":", "")) for s in text[~naive].dropna() if s[-1] != "Z"}
    if (~naive & text.str.endswith("Z")).any():
        offsets.add(0)
    stamps = pa.array(result, pa.int64(), mask=result == _NAT).cast(pa.timestamp("ns", "UTC"))
    return stamps, outside, offsets


def _utc_ns(times: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Nanoseconds since 1970 of tz-aware `times` in any unit (NaT where outside pandas' ns
    range), and which were outside it."""
    unit = times.dt.unit
    ticks = np.asarray(times.dt.tz_convert("UTC").dt.tz_localize(None)).view(np.int64)
    per_s = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    valid = ticks != _NAT
    outside = valid & ((ticks < MIN_S * per_s) | (ticks > MAX_S * per_s))
    ns = np.where(valid & ~outside, ticks, _NAT)
    keep = ns != _NAT
    ns[keep] = ns[keep] * (10**9 // per_s)
    return ns, outside


BAD_OFFSET = "UTC offset out of range (expected -14:00 to +14:00, minutes below 60)"


def _possible(text: str) -> bool:
    """Whether a '+hhmm' (or '+hh:mm') UTC offset is one a clock can have: at most 14 hours
    away from UTC, with minutes below 60."""
    digits = text.replace(":", "")[1:]
    hours, minutes = int(digits[:2]), int(digits[2:4])
    return minutes < 60 and hours * 60 + minutes <= 14 * 60


_ISO_OFFSET = re.compile(r"[+-]\d{2}:?\d{2}$")


def _possible_iso(text: str) -> bool:
    """Whether an ISO 8601 time carries no offset, 'Z', or a possible one (see `_possible`)."""
    found = _ISO_OFFSET.search(text)
    return found is None or _possible(found[0])


def _offset_s(text: str) -> int:
    """'+0530' -> 19800."""
    sign = -1 if text[0] == "-" else 1
    return sign * (int(text[1:3]) * 3600 + int(text[3:5]) * 60)


def _request(
    raw: dict[str, pa.Array], by_kind: dict[str, str], server: str, text: _Text
) -> dict[str, pa.Array]:
    """method, path, query and protocol from a request line or from separate fields."""
    out: dict[str, pa.Array] = {}
    target = None
    if "request" in by_kind:
        request = text(raw[by_kind["request"]], server)
        if pa.types.is_dictionary(request.type):  # the tokenizer's: split each distinct line
            return {**_request_lines(request), **_request(raw, _without(by_kind), server, text)}
        method, target, protocol, well_formed = _split_request(request)
        # a request line that is not 'METHOD target [HTTP/x]' keeps its text as the path
        null = pa.scalar(None, pa.string())
        method = _dictionary(pc.if_else(well_formed, method, null))
        out["method"] = _upper(method)
        out["protocol"] = _dictionary(pc.if_else(well_formed, protocol, null))
        if not pc.all(well_formed).as_py():
            target = pc.if_else(well_formed, target, request)
    if "method" in by_kind:
        out["method"] = _upper(_on_values(raw[by_kind["method"]], lambda v: text(v, server)))
    if "protocol" in by_kind:
        out["protocol"] = _on_values(raw[by_kind["protocol"]], lambda v: text(v, server))
    if "request_uri" in by_kind:
        target = text(raw[by_kind["request_uri"]], server)
    if target is not None:
        out["path"], out["query"] = _split_target(target)
    if "path" in by_kind:
        out["path"] = text(raw[by_kind["path"]], server)
    if "query" in by_kind:
        out["query"] = text(raw[by_kind["query"]], server)
    if "query_apache" in by_kind:
        query = raw[by_kind["query_apache"]]
        out["query"] = text(
            pc.if_else(pc.starts_with(query, "?"), pc.utf8_slice_codeunits(query, 1), None), server
        )
    return out


def _request_lines(request: pa.DictionaryArray) -> dict[str, pa.Array]:
    """method, path, query and protocol of dictionary-encoded request lines, each distinct line
    split once: method and protocol stay encoded, path and query are spelled out per row."""
    request = used_entries(request)  # the tokenizer's dictionary keeps lines it left out
    lines = request.dictionary
    method, target, protocol, well_formed = _split_request(lines)
    null = pa.scalar(None, pa.string())
    # a request line that is not 'METHOD target [HTTP/x]' keeps its text as the path
    target = pc.if_else(well_formed, target, lines)
    path, query = _split_target(target)
    out: dict[str, pa.Array] = {}
    for name, values in (("method", pc.if_else(well_formed, method, null)),
                         ("protocol", pc.if_else(well_formed, protocol, null))):  # fmt: skip
        codes = _dictionary(values)  # distinct line -> distinct value
        taken = pc.take(codes.indices, request.indices)
        out[name] = pa.DictionaryArray.from_arrays(taken, codes.dictionary)
    out["method"] = _upper(out["method"])
    out["path"] = pc.take(path, request.indices)
    out["query"] = pc.take(query, request.indices)
    return out


def used_entries(values: pa.DictionaryArray) -> pa.DictionaryArray:
    """`values` with only the dictionary entries its rows use, in the order of first use."""
    used = pc.unique(pc.drop_null(values.indices)).to_numpy(zero_copy_only=False)
    if len(used) == len(values.dictionary) and (used == np.arange(len(used))).all():
        return values
    position = np.full(len(values.dictionary), -1, dtype=np.int32)
    position[used] = np.arange(len(used), dtype=np.int32)
    indices = pc.take(pa.array(position), values.indices)
    return pa.DictionaryArray.from_arrays(indices, values.dictionary.take(pa.array(used)))


def _upper(method: pa.Array) -> pa.Array:
    """Methods in capitals; a dictionary's values that become the same ('get', 'GET') one."""
    if not pa.types.is_dictionary(method.type):
        return pc.utf8_upper(method)
    upper = pc.utf8_upper(method.dictionary)
    codes = _dictionary(upper)
    if len(codes.dictionary) == len(upper):
        return pa.DictionaryArray.from_arrays(method.indices, upper)
    return pa.DictionaryArray.from_arrays(pc.take(codes.indices, method.indices), codes.dictionary)


def _without(by_kind: dict[str, str]) -> dict[str, str]:
    return {kind: name for kind, name in by_kind.items() if kind != "request"}


def _split_target(target: pa.Array) -> tuple[pa.Array, pa.Array]:
    """path and query of request targets; only targets holding a '?' are split."""
    asks = pc.fill_null(pc.match_substring(target, "?"), False)
    if not pc.any(asks).as_py():
        return target, pa.nulls(len(target), target.type)
    split = pc.split_pattern(pc.filter(target, asks), "?", max_splits=1)
    path = pc.replace_with_mask(target, asks, _nth(split, 0))
    query = pc.replace_with_mask(pa.nulls(len(target), target.type), asks, _nth(split, 1))
    return path, query


def _split_request(request: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """method, target, protocol of 'METHOD target [HTTP/x.y]' lines, and which lines are so."""
    parts = pc.split_pattern(request, " ", max_splits=2)
    count = pc.list_value_length(parts)
    method, target, protocol = (_nth(parts, i) for i in range(3))
    well_formed = pc.and_(
        pc.and_(pc.greater_equal(count, 2), pc.greater(pc.binary_length(target), 0)),
        pc.and_(
            _matches_distinct(method, _METHOD),
            pc.fill_null(_matches_distinct(protocol, _PROTOCOL), True),
        ),
    )
    return method, target, protocol, pc.fill_null(well_formed, False)


def _matches_distinct(values: pa.Array, pattern: str) -> pa.Array:
    """match_substring_regex evaluated once per distinct value (methods, protocols)."""
    encoded = _dictionary(values)
    return pc.take(pc.match_substring_regex(encoded.dictionary, pattern), encoded.indices)


def _nth(lists: pa.ListArray, i: int) -> pa.Array:
    """Element `i` of each list, null where a list is shorter."""
    offsets = lists.offsets.to_numpy()
    starts, lengths = offsets[:-1], np.diff(offsets)
    index = pa.array(starts - offsets[0] + i, mask=lengths <= i)
    return pc.take(lists.values.slice(int(offsets[0])), index)


def _on_values(values: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """`fn` applied to a dictionary's values (keeping it encoded) or to plain values."""
    if pa.types.is_dictionary(values.type):
        return pa.DictionaryArray.from_arrays(values.indices, fn(values.dictionary))
    return fn(values)


def _numbers(
    raw: dict[str, pa.Array],
    by_kind: dict[str, str],
    rejects: Rejects,
    optional: Collection[str] = frozenset(),
) -> dict[str, pa.Array]:
    out: dict[str, pa.Array] = {}
    if "status" in by_kind:
        out["status"] = pc.cast(_dash_null(raw[by_kind["status"]]), pa.int16())
        if by_kind["status"] not in optional:  # under a status condition '-' is expected
            rejects.add(pc.is_null(out["status"]), f"{by_kind['status']}: missing")
    if "bytes" in by_kind:
        out["bytes"] = pc.cast(_dash_null(raw[by_kind["bytes"]]), pa.int64())
    for kind in DURATION_KINDS:
        if kind in by_kind:
            value = pc.cast(_dash_null(raw[by_kind[kind]]), pa.float64())
            factor = MS_PER_UNIT[kind]
            out["duration_ms"] = (
                pc.divide(value, 1 / factor) if factor < 1 else pc.multiply(value, factor)
            )
            break
    if "upstream_s" in by_kind:
        out["upstream_ms"] = _upstream_ms(raw[by_kind["upstream_s"]])
    if "pid" in by_kind:
        digits = pc.replace_substring_regex(_dash_null(raw[by_kind["pid"]]), r"[<>]", "")
        out["pid"] = pc.cast(digits, pa.int32())
    return out


def _upstream_ms(values: pa.Array) -> pa.Array:
    """Sum of an upstream time list ('0.010, 0.020', '0.1 : 0.2', '-') in milliseconds."""
    lists = pc.split_pattern_regex(values, r"(?:, | : )")
    flat = _dash_null(pc.list_flatten(lists))
    seconds = pc.cast(flat, pa.float64()).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(lists).to_numpy()
    valid = ~np.isnan(seconds)
    total = np.bincount(parents[valid], weights=seconds[valid], minlength=len(values))
    counted = np.bincount(parents[valid], minlength=len(values))
    return pa.array(np.where(counted > 0, total * 1e3, np.nan), pa.float64(), from_pandas=True)


def _plain(values: pa.Array, server: str) -> pa.Array:
    return values


def _text(values: pa.Array, server: str) -> pa.Array:
    """Strings with the server's escapes undone and '-' as null."""
    values = _dash_null(values)
    if server not in UNESCAPE:
        return values
    escaped = pc.fill_null(pc.match_substring(values, "\\"), False)
    if not pc.any(escaped).as_py():
        return values
    encoded = _dictionary(pc.filter(values, escaped))
    pattern = re.compile(UNESCAPE[server])
    plain = pa.array([_unescape(v, pattern) for v in encoded.dictionary.to_pylist()], pa.string())
    return pc.replace_with_mask(values, escaped, pc.take(plain, encoded.indices))


_C_ESCAPES = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"v": b"\v", b"f": b"\f", b"b": b"\b"}


def _unescape(text: str, pattern: re.Pattern[bytes]) -> str:
    """One distinct value with its escape sequences turned back into the bytes they stand for."""

    def plain(match: re.Match[bytes]) -> bytes:
        sequence = match.group(0)[1:]
        if sequence[:1] == b"x":
            return bytes([int(sequence[1:], 16)])
        return _C_ESCAPES.get(sequence, sequence)

    return pattern.sub(plain, text.encode("utf-8")).decode("utf-8", errors="backslashreplace")


def _dash_null(values: pa.Array) -> pa.Array:
    if not pa.types.is_string(values.type) or not pc.any(pc.equal(values, "-")).as_py():
        return values
    return pc.if_else(pc.equal(values, "-"), pa.scalar(None, values.type), values)


def _dictionary(values: pa.Array) -> pa.DictionaryArray:
    encoded = pc.dictionary_encode(values)
    return encoded.combine_chunks() if isinstance(encoded, pa.ChunkedArray) else encoded


def _np_bool(values: pa.Array | np.ndarray) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values.astype(bool)
    mask: np.ndarray = pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool)
    return mask


def fixed_zone(offsets: set[int]) -> dt.tzinfo | None:
    """The one UTC offset a log carried as a tzinfo, or None when there were several or none."""
    if len(offsets) != 1:
        return None
    (seconds,) = offsets
    return dt.UTC if seconds == 0 else dt.timezone(dt.timedelta(seconds=seconds))


APACHE_TIME_KINDS = {"time_strf", "time_sec", "time_msec", "time_usec", "time_frac"}
_PRECISION = {"time_usec": 0, "time_msec": 1, "strf_frac": 2, "clf_frac": 2, "time_strf": 3,
              "time_clf": 3, "time_sec": 4}  # fmt: skip


def apache_time(
    raw: dict[str, pa.Array],
    kinds: dict[str, str],
    fields: Mapping[str, Field],
    tz: str | None,
    rejects: Rejects,
) -> tuple[pa.Array, set[int]]:
    """The request time of Apache formats with ``%{FORMAT}t`` fields, and the offsets seen.

    Of the times a line carries (``begin:``/``end:``, epochs, strftime parts,
    fractions) the most precise is taken, ``begin`` (Apache's default, as
    ``%t``) before ``end`` on a tie. Strftime parts of one flavor are combined
    (``%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t``); a strftime time without ``%z``
    takes the offset of a ``%t`` on the same line, else `tz` (default UTC).
    """
    n = rejects.n
    by_flavor: dict[str, dict[str, list[str]]] = {}
    for name, kind in kinds.items():
        if kind in APACHE_TIME_KINDS or kind == "time_clf":
            arg = fields[name].arg if name in fields else "begin"
            flavor = arg.split("|", 1)[0] or "begin"
            by_flavor.setdefault(flavor, {}).setdefault(kind, []).append(name)
    candidates: list[tuple[float, int, str, str, str]] = []  # (precision, flavor, ...)
    for flavor_rank, flavor in enumerate(("begin", "end")):
        have = by_flavor.get(flavor, {})
        for kind in ("time_usec", "time_msec", "time_sec"):
            if kind in have:
                candidates.append((_PRECISION[kind], flavor_rank, kind, flavor, have[kind][0]))
        if "time_strf" in have:
            kind = "strf_frac" if "time_frac" in have else "time_strf"
            candidates.append((_PRECISION[kind], flavor_rank, kind, flavor, ""))
        if "time_clf" in have:
            kind = "clf_frac" if "time_frac" in have else "time_clf"
            candidates.append((_PRECISION[kind] + 0.5, flavor_rank, kind, flavor,
                               have["time_clf"][0]))  # fmt: skip
    if not candidates:
        rejects.add(np.ones(n, bool), "the format has no time field")
        return pa.nulls(n, pa.timestamp("ns", "UTC")), set()
    _, _, kind, flavor, name = min(candidates)
    have = by_flavor[flavor]
    offsets: set[int] = set()
    label = name or ", ".join(have["time_strf"])
    if kind in ("time_usec", "time_msec", "time_sec"):
        scale = {"time_usec": 1_000, "time_msec": 1_000_000, "time_sec": 1_000_000_000}[kind]
        value = pc.cast(_dash_null(raw[name]), pa.int64())
        rejects.add(pc.is_null(value), f"{name}: missing")
        as_float = pc.cast(value, pa.float64(), safe=False)  # beyond 2^53: range-checked below
        seconds = _in_range(pc.divide(as_float, 1e9 / scale), name, rejects)
        value = pc.if_else(pc.is_null(seconds), pa.scalar(None, pa.int64()), value)
        ns = pc.multiply(value, scale)  # within pandas' range now: no overflow
        return _with_fraction(ns, kind == "time_sec", raw, kinds, fields, flavor), offsets
    if kind.startswith("clf"):
        rejects.add(pc.is_null(raw[name]), f"{name}: missing")
        stamps, offsets = _clf_halves(*_clf_parts(raw, name), name, rejects)
        ns = stamps.cast(pa.int64())
        return _with_fraction(ns, True, raw, kinds, fields, flavor), offsets
    # strftime parts of this flavor, each field parsed once per distinct value
    parts: dict[str, np.ndarray] = {}
    for field_name in have["time_strf"]:
        fmt = fields[field_name].arg.split("|", 1)[1]
        values = _dictionary(raw[field_name])
        found = strftime.parts(values.dictionary, fmt)
        index = pc.fill_null(values.indices, 0).to_numpy(zero_copy_only=False)
        valid = pc.is_valid(values.indices).to_numpy(zero_copy_only=False)
        for part, numbers in found.items():
            if part in parts:
                continue
            taken = np.full(n, np.nan)
            taken[valid] = numbers[index[valid]] if len(numbers) else np.nan
            parts[part] = taken
    local_s, is_epoch = strftime.local_seconds(parts, n)
    if "z" in parts:
        offset_s = parts["z"]
        offsets = {int(o) for o in np.unique(offset_s[~np.isnan(offset_s)])}
        utc_s = np.where(is_epoch, local_s, local_s - offset_s)
    elif "time_clf" in kinds.values() and not is_epoch.all():
        clf_name = next(k for k, v in kinds.items() if v == "time_clf")
        texts = _clf_parts(raw, clf_name)[1]
        offset_s = np.array([_offset_s(t) if t and _OFFSET.match(t) and _possible(t) else np.nan
                             for t in texts.dictionary.to_pylist()] + [np.nan])  # fmt: skip
        index = pc.fill_null(texts.indices, len(offset_s) - 1).to_numpy(zero_copy_only=False)
        per_row = offset_s[index.astype(np.int64)]
        offsets = {int(o) for o in np.unique(per_row[~np.isnan(per_row)])}
        utc_s = np.where(is_epoch, local_s, local_s - per_row)
    else:
        utc_s = _localize(local_s, is_epoch, tz)
    seconds = pa.array(utc_s, pa.float64(), from_pandas=True)
    rejects.add(pc.is_null(seconds), f"{label}: expected a valid date and time")
    seconds = _in_range(seconds, label, rejects)
    ns = pc.multiply(pc.cast(seconds, pa.int64()), 1_000_000_000)
    return _with_fraction(ns, True, raw, kinds, fields, flavor), offsets


def _clf_parts(
    raw: dict[str, pa.Array], name: str
) -> tuple[pa.DictionaryArray, pa.DictionaryArray]:
    """A CLF time's date-time and offset halves as dictionaries, from either path."""
    if name + OFFSET_SUFFIX in raw:  # the tokenizer split it at its space
        return _dictionary(raw[name]), _dictionary(raw[name + OFFSET_SUFFIX])
    values = _dictionary(raw[name])
    local = pa.DictionaryArray.from_arrays(
        values.indices, pc.utf8_slice_codeunits(values.dictionary, 0, 20))  # fmt: skip
    offset = pa.DictionaryArray.from_arrays(
        values.indices, pc.utf8_slice_codeunits(values.dictionary, -5))  # fmt: skip
    return local, offset


def _localize(local_s: np.ndarray, is_epoch: np.ndarray, tz: str | None) -> np.ndarray:
    """UTC seconds of wall-clock seconds in zone `tz` (UTC by default); NaN where the wall
    time does not exist or is ambiguous there."""
    if tz is None or tz == "UTC":
        return local_s
    ok = ~np.isnan(local_s) & ~is_epoch
    out = local_s.copy()
    if ok.any():
        naive = pd.to_datetime(local_s[ok].astype(np.int64), unit="s")
        aware = naive.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        utc = aware.tz_convert("UTC").tz_localize(None)
        values = np.asarray(utc.as_unit("s").asi8, dtype=np.float64)
        values[np.asarray(aware.isna())] = np.nan
        out[ok] = values
    return out


def _with_fraction(
    ns: pa.Array,
    whole: bool,
    raw: dict[str, pa.Array],
    kinds: dict[str, str],
    fields: Mapping[str, Field],
    flavor: str,
) -> pa.Array:
    """`ns` plus the flavor's ``msec_frac``/``usec_frac`` when the time is whole seconds."""
    if whole:
        for name, kind in kinds.items():
            arg = fields[name].arg if name in fields else ""
            if kind == "time_frac" and arg.split("|")[0] == flavor:
                unit = arg.split("|")[1]
                frac = pc.cast(_dash_null(raw[name]), pa.int64())
                ns = pc.add(ns, pc.multiply(frac, 1_000_000 if unit == "ms" else 1_000))
                break
    return ns.cast(pa.timestamp("ns", "UTC"))


def merge(parts: list[tuple[np.ndarray, Converted]], n: int) -> Converted:
    """One block's `Converted` from parts converted apart (the tokenizer's lines, the exact
    path's), each with the sorted line indices it holds: columns and rejects in line order."""
    if len(parts) == 1 and len(parts[0][0]) == n:
        return parts[0][1]
    rows = np.concatenate([index for index, _ in parts])
    where = np.empty(n, dtype=np.int64)  # line -> its row in the parts laid end to end
    where[rows] = np.arange(n)
    order = pa.array(where)
    names = list(dict.fromkeys(name for _, part in parts for name in part.columns))
    columns: dict[str, pa.Array] = {}
    for name in names:
        pieces = [part.columns.get(name) for _, part in parts]
        kinds = {p.type for p in pieces if p is not None}
        if len(kinds) > 1:  # e.g. dictionary-encoded by the tokenizer, plain by the pattern
            pieces = [_decoded(p) if p is not None else None for p in pieces]
        typ = next(p.type for p in pieces if p is not None)
        filled: list[pa.Array] = [
            p if p is not None else pa.nulls(len(index), typ)
            for p, (index, _) in zip(pieces, parts, strict=True)
        ]
        filled = [p.cast(typ) if p.type != typ else p for p in filled]
        columns[name] = pc.take(pa.concat_arrays(filled), order)
    rejects = Rejects(n)
    for index, part in parts:
        for code, reason in enumerate(part.rejects.reasons):
            if code:
                mask = np.zeros(n, dtype=bool)
                mask[index[part.rejects.codes == code]] = True
                rejects.add(mask, reason)
    offsets = set().union(*(part.offsets_s for _, part in parts))
    return Converted(columns, rejects, offsets)


def _decoded(values: pa.Array) -> pa.Array:
    """Dictionary-encoded values as plain ones; other values as they are."""
    if pa.types.is_dictionary(values.type):
        return values.dictionary_decode()
    return values
