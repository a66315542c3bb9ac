"""A seeded mutation fuzzer over real files, and the loader contract it checks.

Each mutation takes the bytes of a real input (a recorded log, profile, CSV) and
damages it the way the world does: truncation, flipped bytes, NUL bytes, ``inf``
and huge numbers, Latin-1 text, extra columns, dropped and duplicated lines.
`check_contract` then asserts perfkit's promise for a loader: it returns
normally, or raises `InputError` whose message names the file; nothing else
(an ``AttributeError``, ``ArrowInvalid``, ``MemoryError``... is a bug).

Seeded and bounded: the same seed gives the same mutants, so a failure
reproduces with its seed and mutation name.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from perfkit.errors import InputError

NUMBER = re.compile(rb"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
HUGE = (b"inf", b"-inf", b"nan", b"NaN", b"Infinity", b"1e309", b"9007199254740993",
        b"99999999999", b"-1", b"18446744073709551616", b"0", b"")  # fmt: skip


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, max(len(data), 1))]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def insert_nul(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + b"\x00" * rng.randint(1, 4) + data[at:]


def huge_numbers(data: bytes, rng: random.Random) -> bytes:
    """Replace a few numbers by inf, nan, 2^53+1, negative or out-of-range values."""
    spans = list(NUMBER.finditer(data))
    if not spans:
        return data + rng.choice(HUGE)
    out = data
    for match in sorted(rng.sample(spans, min(len(spans), rng.randint(1, 4))),
                        key=lambda m: -m.start()):  # fmt: skip
        out = out[: match.start()] + rng.choice(HUGE) + out[match.end() :]
    return out


def latin1(data: bytes, rng: random.Random) -> bytes:
    """Latin-1 bytes (invalid UTF-8) inside a line."""
    lines = _lines(data) or [b""]
    i = rng.randrange(len(lines))
    at = rng.randrange(len(lines[i]) + 1)
    lines[i] = lines[i][:at] + "Müller Straße é".encode("latin-1") + lines[i][at:]
    return b"".join(lines)


def extra_columns(data: bytes, rng: random.Random) -> bytes:
    """Append separators and values to some lines (CSV: extra columns; logs: extra fields)."""
    lines = _lines(data)
    if not lines:
        return data
    sep = rng.choice([b",", b" ", b"\t", b'" "'])
    for i in rng.sample(range(len(lines)), min(len(lines), rng.randint(1, 5))):
        body = lines[i].rstrip(b"\r\n")
        lines[i] = body + sep + b"extra" + sep + b"42" + lines[i][len(body):]
    return b"".join(lines)


def drop_and_duplicate_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    if len(lines) < 2:
        return data + data
    i = rng.randrange(len(lines))
    j = rng.randrange(len(lines))
    lines.insert(j, lines[i])
    del lines[rng.randrange(len(lines))]
    return b"".join(lines)


def splice_line(data: bytes, rng: random.Random) -> bytes:
    """A partial line glued to the next (a writer killed mid-line, then restarted)."""
    lines = _lines(data)
    if len(lines) < 2:
        return data
    i = rng.randrange(len(lines) - 1)
    cut = rng.randrange(len(lines[i]))
    lines[i] = lines[i][:cut]
    return b"".join(lines)


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncate": truncate,
    "flip_bytes": flip_bytes,
    "insert_nul": insert_nul,
    "huge_numbers": huge_numbers,
    "latin1": latin1,
    "extra_columns": extra_columns,
    "drop_and_duplicate_lines": drop_and_duplicate_lines,
    "splice_line": splice_line,
}


def mutants(data: bytes, seed: int, per_mutation: int = 4) -> Iterator[tuple[str, bytes]]:
    """(label, bytes) for `per_mutation` mutants of each kind; labels carry the seed."""
    for name, mutate in MUTATIONS.items():
        for k in range(per_mutation):
            rng = random.Random(f"{seed}:{name}:{k}")
            yield f"{name}#{k} seed={seed}", mutate(data, rng)


def check_contract(load: Callable[[Path], object], path: Path) -> str:
    """Call ``load(path)``: fine if it returns or raises `InputError` naming the file.

    Returns "ok" or "input_error"; any other exception propagates (a bug), and an
    `InputError` that does not name the file fails an assertion.
    """
    try:
        load(path)
    except InputError as exc:
        assert path.name in str(exc), f"InputError does not name {path.name}: {exc}"
        return "input_error"
    return "ok"


def fuzz_loader(load: Callable[[Path], object], source: Path, tmp: Path, seed: int = 0,
                per_mutation: int = 4, suffix: str | None = None) -> dict[str, int]:  # fmt: skip
    """Run every mutant of `source` through `check_contract`; count the outcomes.

    A failing mutant re-raises with its label, so the failure names how to reproduce it.
    """
    counts = {"ok": 0, "input_error": 0}
    name = source.name if suffix is None else f"{source.stem}{suffix}"
    for i, (label, data) in enumerate(mutants(source.read_bytes(), seed, per_mutation)):
        folder = tmp / f"m{i}"
        folder.mkdir()
        path = folder / name
        path.write_bytes(data)
        try:
            counts[check_contract(load, path)] += 1
        except AssertionError:
            raise
        except Exception as exc:
            raise AssertionError(f"{source.name} mutant {label}: {type(exc).__name__}: {exc}") from exc
    return counts
