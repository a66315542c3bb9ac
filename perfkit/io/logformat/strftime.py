"""strftime(3) patterns (Apache ``%{FORMAT}t``) as RE2 patterns, and their parts back to times.

`regex` turns a strftime format into a pattern (with one named group per
specifier when asked); `parts` extracts the numbers of each distinct value;
`instant` assembles nanoseconds since 1970 from the parts of one or more
fields, all columnar (numpy over rows, Python only over distinct values).
Locale-dependent specifiers are read as the C locale writes them.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from perfkit.errors import InputError

# specifier -> (group, RE2 body); group None: matched but not used for the time
SPECIFIERS: dict[str, tuple[str | None, str]] = {
    "Y": ("Y", r"\d{4}"),
    "C": ("C", r"\d{2}"),
    "y": ("y", r"\d{2}"),
    "G": (None, r"\d{4}"),
    "g": (None, r"\d{2}"),
    "m": ("m", r"\d{2}"),
    "b": ("b", r"[A-Za-z]{3}"),
    "h": ("b", r"[A-Za-z]{3}"),
    "B": ("b", r"[A-Za-z]{3,9}"),
    "d": ("d", r"\d{2}"),
    "e": ("d", r"[ \d]\d"),
    "j": ("j", r"\d{3}"),
    "H": ("H", r"\d{2}"),
    "k": ("H", r"[ \d]\d"),
    "I": ("I", r"\d{2}"),
    "l": ("I", r"[ \d]\d"),
    "p": ("p", r"[AaPp][Mm]"),
    "M": ("M", r"\d{2}"),
    "S": ("S", r"\d{2}"),
    "z": ("z", r"[+-]\d{4}"),
    "Z": (None, r"[A-Za-z0-9+-]{1,10}"),
    "s": ("s", r"-?\d{1,12}"),
    "a": (None, r"[A-Za-z]{3}"),
    "A": (None, r"[A-Za-z]{6,9}"),
    "u": (None, r"[1-7]"),
    "w": (None, r"[0-6]"),
    "U": (None, r"\d{2}"),
    "W": (None, r"\d{2}"),
    "V": (None, r"\d{2}"),
    "n": (None, r"\n"),
    "t": (None, r"\t"),
}
# composite specifiers (C locale)
ALIASES = {
    "T": "%H:%M:%S",
    "D": "%m/%d/%y",
    "F": "%Y-%m-%d",
    "R": "%H:%M",
    "r": "%I:%M:%S %p",
    "c": "%a %b %e %H:%M:%S %Y",
    "x": "%m/%d/%y",
    "X": "%H:%M:%S",
}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def expand(fmt: str, where: str = "") -> list[tuple[str, str]]:
    """`fmt` as ('lit', text) and ('spec', letter) pieces, composite specifiers expanded."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(fmt):
        if fmt[i] != "%":
            out.append(("lit", fmt[i]))
            i += 1
            continue
        if i + 1 >= len(fmt):
            raise InputError(f"strftime format {fmt!r}{where} ends in a lone '%'")
        letter = fmt[i + 1]
        if letter in ("E", "O") and i + 2 < len(fmt):  # %Ey, %OH: the C locale ignores them
            letter = fmt[i + 2]
            i += 1
        if letter == "%":
            out.append(("lit", "%"))
        elif letter in ALIASES:
            out.extend(expand(ALIASES[letter], where))
        elif letter in SPECIFIERS:
            out.append(("spec", letter))
        else:
            raise InputError(
                f"unsupported strftime specifier '%{letter}' in {fmt!r}{where}; perfkit reads "
                f"%{' %'.join(SPECIFIERS)} %{' %'.join(ALIASES)} and %%"
            )
        i += 2
    return out


def regex(fmt: str, capture: bool = False, where: str = "") -> str:
    """An RE2 pattern for what strftime writes for `fmt` (named groups when `capture`)."""
    pieces, seen = [], set()
    for kind, value in expand(fmt, where):
        if kind == "lit":
            pieces.append(re.escape(value))
            continue
        group, body = SPECIFIERS[value]
        if capture and group is not None and group not in seen:
            seen.add(group)
            pieces.append(f"(?P<{group}>{body})")
        else:
            pieces.append(f"(?:{body})")
    return "".join(pieces)


def groups(fmt: str) -> set[str]:
    """The time parts `fmt` writes (Y, m, d, H, z, s, ...)."""
    return {g for k, v in expand(fmt) if k == "spec" and (g := SPECIFIERS[v][0]) is not None}


def complete(parts: set[str]) -> bool:
    """Whether these parts name an instant (to the second, minutes and seconds may be left out)."""
    if "s" in parts:
        return True
    year = "Y" in parts or "y" in parts
    day = (("m" in parts or "b" in parts) and "d" in parts) or "j" in parts
    hour = "H" in parts or ("I" in parts and "p" in parts)
    return year and day and hour


def parts(values: pa.Array, fmt: str) -> dict[str, np.ndarray]:
    """The numeric parts of each of `values` (strings written by `fmt`): group -> float array,
    NaN where a value does not match. Month names become 1-12, AM/PM 0/12, offsets seconds."""
    found = pc.extract_regex(values, "^" + regex(fmt, capture=True) + "$")
    out: dict[str, np.ndarray] = {}
    for index in range(found.type.num_fields):
        name = found.type.field(index).name
        text = pc.struct_field(found, index)
        text = pc.if_else(found.is_valid(), text, pa.scalar(None, pa.string()))
        if name == "b":
            lowered = pc.utf8_slice_codeunits(pc.utf8_lower(text), 0, 3)
            number = pc.add(pc.index_in(lowered, pa.array(MONTHS)), 1)
        elif name == "p":
            number = pc.if_else(pc.equal(pc.utf8_upper(text), "PM"), 12, 0)
        elif name == "z":
            sign = pc.if_else(pc.starts_with(text, "-"), -1, 1)
            hours = pc.cast(pc.utf8_slice_codeunits(text, 1, 3), pa.int64())
            minutes = pc.cast(pc.utf8_slice_codeunits(text, 3, 5), pa.int64())
            bad = pc.or_(pc.greater_equal(minutes, 60),
                         pc.greater(pc.add(pc.multiply(hours, 60), minutes), 14 * 60))  # fmt: skip
            seconds = pc.multiply(sign, pc.add(pc.multiply(hours, 3600), pc.multiply(minutes, 60)))
            number = pc.if_else(bad, pa.scalar(None, pa.int64()), seconds)
        else:
            number = pc.cast(pc.utf8_trim_whitespace(text), pa.int64())
        out[name] = pc.cast(number, pa.float64()).to_numpy(zero_copy_only=False)
    return out


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days: np.ndarray = era * 146097 + doe - 719468
    return days


def _leap(y: np.ndarray) -> np.ndarray:
    leap: np.ndarray = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return leap


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def local_seconds(p: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since 1970 of the wall-clock time in parts `p` (float, NaN where invalid),
    and whether each came from an epoch (%s, already UTC)."""
    nan = np.full(n, np.nan)
    if "s" in p:
        return p["s"], ~np.isnan(p["s"])
    if "Y" in p:
        year = p["Y"]
    elif "y" in p:
        yy = p["y"]
        year = (p["C"] * 100 + yy) if "C" in p else np.where(yy < 69, 2000 + yy, 1900 + yy)
    else:
        return nan, np.zeros(n, bool)
    ok = ~np.isnan(year)
    year_i = np.where(ok, year, 1970).astype(np.int64)
    if "j" in p and not ("d" in p and ("m" in p or "b" in p)):
        doy = p["j"]
        length = np.where(_leap(year_i), 366, 365)
        ok &= (doy >= 1) & (doy <= length)
        days = _days_from_civil(year_i, np.ones(n, np.int64), np.ones(n, np.int64))
        days = days + np.where(ok, doy, 1).astype(np.int64) - 1
    else:
        month = p.get("m", p.get("b", nan))
        day = p.get("d", nan)
        ok &= (month >= 1) & (month <= 12) & (day >= 1)
        month_i = np.where(ok, month, 1).astype(np.int64)
        day_i = np.where(ok, day, 1).astype(np.int64)
        limit = _MONTH_DAYS[month_i - 1] + ((month_i == 2) & _leap(year_i))
        ok &= day_i <= limit
        days = _days_from_civil(year_i, month_i, day_i)
    if "H" in p:
        hour = p["H"]
        ok &= (hour >= 0) & (hour <= 23)
    else:
        twelve = p.get("I", nan)
        ok &= (twelve >= 1) & (twelve <= 12)
        hour = (twelve % 12) + p.get("p", nan)
    minute = p.get("M", np.zeros(n))
    second = p.get("S", np.zeros(n))
    ok &= (minute >= 0) & (minute <= 59) & (second >= 0) & (second <= 60)
    seconds = days * 86400.0 + hour * 3600 + minute * 60 + second
    return np.where(ok, seconds, np.nan), np.zeros(n, bool)
