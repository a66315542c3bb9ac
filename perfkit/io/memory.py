"""`read_memory`: process memory over time -> the memory frame.

Sources, recognised by their content:

- perfkit's RSS CSV (`perfkit collect rss`, or any psutil-based sampler):
  ``time`` as ISO 8601 or epoch seconds, ``pid``, optional ``role``, and
  memory in a column whose name gives its unit: ``rss_bytes``, ``rss_kib``,
  ``rss_mib`` (also ``rss_kb``/``rss_mb`` as psutil users write them, read as
  KiB/MiB);
- memory_profiler's ``mprof run`` ``.dat`` files: ``MEM <MiB> <epoch s>`` for
  the main process (pid 0, role ``main``), ``CHLD <pid> <MiB> <epoch s>`` for
  children (role ``child``);
- Prometheus: a text-exposition scrape holding ``process_resident_memory_bytes``
  (the sample's timestamp in ms if present, else the file's modification
  time) or the JSON of a range query (``/api/v1/query_range``); the process is
  the ``pid`` label when present, its labels are kept in ``labels``.

Result: ``time`` (UTC), ``pid``, ``role``, ``rss_bytes``, optional
``uss_bytes``, ``labels``, ``source``, sorted by time.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io._dtypes import DtypeBackend, check_backend, to_backend
from perfkit.io.paths import Buffer, Paths, expand_paths
from perfkit.io.textfiles import read_text

UNITS = {"bytes": 1, "kib": 1024, "kb": 1024, "mib": 1024**2, "mb": 1024**2, "gib": 1024**3}
METRIC = "process_resident_memory_bytes"
_PROM_LINE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+(?P<ts>-?\d+))?\s*$"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
COLUMNS = ["time", "pid", "role", "rss_bytes", "uss_bytes", "labels", "source"]


def read_memory(paths: Paths, dtype_backend: DtypeBackend | None = None) -> pd.DataFrame:
    """Read memory samples (see the module docstring) into one frame, oldest first.

    `dtype_backend` as in `pandas.read_csv` (see `perfkit.io._dtypes`): None for pandas'
    defaults, ``"numpy_nullable"`` or ``"pyarrow"``. In every backend ``pid`` and
    ``uss_bytes`` may be missing and stay whole (``Int64`` by default); ``role`` and
    ``source`` are categorical."""
    check_backend(dtype_backend, "read_memory")
    frames = [_read_one(item) for item in expand_paths(paths)]
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(["time", "pid"], kind="stable", ignore_index=True)
    frame["pid"] = frame["pid"].astype("Int64")
    frame["role"] = frame["role"].astype("category")
    frame["source"] = frame["source"].astype("category")
    frame["labels"] = frame["labels"].astype(pd.StringDtype("pyarrow"))
    return to_backend(frame[COLUMNS], dtype_backend, "read_memory")


def _read_one(item: Path | Buffer) -> pd.DataFrame:
    text = read_text(item).removeprefix("\ufeff")  # a byte order mark (Excel) is dropped
    name = item.name
    head = text.lstrip()[:2000]
    if not head:
        raise InputError(f"{item}: empty file, no memory samples")
    if head.startswith("{"):
        frame = _prometheus_json(item, text)
    elif head.startswith(("CMDLINE", "MEM ", "CHLD ")):
        frame = _mprof(item, text)
    elif METRIC in head or head.startswith("# HELP") or head.startswith("# TYPE"):
        frame = _prometheus_text(item, text)
    else:
        frame = _csv(item, text)
    frame["source"] = name
    return frame


def _csv(item: Path | Buffer, text: str) -> pd.DataFrame:
    """A CSV of samples; damaged rows (partial, glued, values out of range) are left out and
    counted (see `perfkit.io.loadtest.left_out`)."""
    from perfkit.io.loadtest import csv_rows, left_out

    if text and not text.endswith("\n") and "\n" in text:
        # a sampler killed mid-row leaves a partial last line: every earlier row is whole
        last = text.count("\n") + 1
        warnings.warn(f"{item}:{last}: incomplete last line left out (the sampler stopped "
                      "mid-write?)", PerfkitWarning, stacklevel=4)  # fmt: skip
        text = text[: text.rfind("\n") + 1]
    header, raw, damaged = csv_rows(text)
    seen: set[str] = set()
    twice = [c for c in header if c.lower() in seen or seen.add(c.lower())]  # type: ignore[func-returns-value]
    if twice:
        raise InputError(f"{item}: the header names column {twice[0]!r} twice; expected each "
                         "column once")  # fmt: skip
    columns = {c.lower(): c for c in header}
    memory = next((c for c in columns if re.fullmatch(r"rss_(bytes|kib|kb|mib|mb|gib)", c)), None)
    if memory is None or "time" not in columns:
        raise InputError(
            f"{item}: expected a 'time' column and RSS with its unit in the name "
            f"(rss_bytes, rss_kib or rss_mib); found {', '.join(header)}"
        )
    rss = _bytes(raw[columns[memory]], memory)
    uss_name = next((c for c in columns if re.fullmatch(r"uss_(bytes|kib|kb|mib|mb|gib)", c)), None)
    uss = _bytes(raw[columns[uss_name]], uss_name, optional=True) if uss_name else None
    pid = pd.to_numeric(raw[columns["pid"]], errors="coerce") if "pid" in columns else None
    times = _times(raw[columns["time"]])
    checks = [
        (times.isna(), "expected a time (ISO 8601 or epoch seconds, 1970 to 2262)",
         raw[columns["time"]]),
        (rss.isna(), f"expected a number in {memory} (finite, >= 0)", raw[columns[memory]]),
    ]  # fmt: skip
    if uss is not None:
        uss_column = columns[cast(str, uss_name)]  # uss is read when uss_name is
        checks.append((uss.isna() & (raw[uss_column].str.strip() != ""),
                       f"expected a number in {uss_name} (finite, >= 0) or nothing",
                       raw[uss_column]))  # fmt: skip
    if pid is not None:
        good_pid = pid.notna() & (pid >= 0) & (pid < 2**31) & (pid == np.floor(pid))
        checks.append((~good_pid, "expected a process id (a whole number >= 0) in pid",
                       raw[columns["pid"]]))  # fmt: skip
    bad = np.zeros(len(raw), dtype=bool)
    lines = raw["_line"].to_numpy()
    for mask, expected, values in checks:
        new = mask.to_numpy() & ~bad
        for at in np.flatnonzero(new)[:20].tolist():  # the reasons of the first few
            damaged[int(lines[at])] = f"{expected}, got {str(values.iloc[at])[:80]!r}"
        for at in np.flatnonzero(new)[20:].tolist():
            damaged[int(lines[at])] = expected
        bad |= new
    left_out(item, damaged, int((~bad).sum()), stacklevel=5)
    keep = ~bad
    frame = pd.DataFrame({
        "time": times[keep].array,
        "pid": pid[keep].to_numpy() if pid is not None else 0,
        "role": raw.loc[keep, columns["role"]].to_numpy() if "role" in columns else "process",
        "rss_bytes": rss[keep].round().astype("int64").to_numpy(),
        "uss_bytes": (uss[keep].round().astype("Int64").array if uss is not None
                      else pd.array([pd.NA] * int(keep.sum()), dtype="Int64")),
        "labels": None,
    })  # fmt: skip
    return frame


MAX_BYTES = 2**53  # 8 PiB: more is not a process's memory (and not exact as a float)


def _bytes(values: pd.Series, name: str, optional: bool = False) -> pd.Series:
    """A memory column in bytes (its unit from `name`); NaN where not a finite number >= 0."""
    number = pd.to_numeric(values.where(values.str.strip() != ""), errors="coerce")
    number = number.astype("float64") * UNITS[name.split("_", 1)[1]]
    return number.where(np.isfinite(number) & (number >= 0) & (number < MAX_BYTES))


EARLIEST = pd.Timestamp("1970-01-01", tz="UTC")
LATEST = pd.Timestamp("2262-04-11", tz="UTC")  # as far as nanoseconds since 1970 reach


def _times(values: pd.Series) -> pd.Series:
    """ISO 8601 strings or epoch seconds (as psutil-based samplers write them) -> UTC; NaT
    where a value is neither, is before 1970 or beyond what nanoseconds hold (2262).

    A column is epoch seconds when most of its values are numbers; then the
    others are damage, and the other way round.
    """
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() * 2 > len(values):
        seconds = numeric.where(
            np.isfinite(numeric) & (numeric >= 0) & (numeric < LATEST.timestamp())
        )
        parsed = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(
            values.where(numeric.isna()), utc=True, errors="coerce", format="ISO8601"
        )
    return parsed.where((parsed >= EARLIEST) & (parsed < LATEST))


def _mprof(item: Path | Buffer, text: str) -> pd.DataFrame:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0] in ("CMDLINE", "FUNC"):
            continue
        try:
            if parts[0] == "MEM":
                rows.append((float(parts[2]), 0, "main", float(parts[1])))
            elif parts[0] == "CHLD":
                rows.append((float(parts[3]), int(parts[1]), "child", float(parts[2])))
            else:
                raise ValueError(parts[0])
            if not (_sane(rows[-1][0], rows[-1][3] * UNITS["mib"]) and 0 <= rows[-1][1] < 2**31):
                raise ValueError(line)
        except (ValueError, IndexError):
            raise InputError(
                f"{item}:{number}: expected 'MEM <MiB> <time>' or 'CHLD <pid> <MiB> <time>' "
                f"(mprof .dat; MiB finite and >= 0, pids >= 0, times 1970 to 2262), "
                f"got {line[:80]!r}"
            ) from None
    if not rows:
        raise InputError(f"{item}: no MEM lines in this mprof file")
    times, pids, roles, mib = zip(*rows, strict=True)
    return pd.DataFrame({
        "time": pd.to_datetime(np.array(times), unit="s", utc=True),
        "pid": pids, "role": roles,
        "rss_bytes": np.round(np.array(mib) * UNITS["mib"]).astype("int64"),
        "uss_bytes": pd.array([pd.NA] * len(rows), dtype="Int64"), "labels": None,
    })  # fmt: skip


def _prometheus_text(item: Path | Buffer, text: str) -> pd.DataFrame:
    fallback = (
        pd.Timestamp(item.stat().st_mtime, unit="s", tz="UTC") if isinstance(item, Path) else None
    )
    rows: list[_Sample] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _PROM_LINE.match(line)
        if match is None:
            raise InputError(
                f"{item}:{number}: expected a Prometheus sample 'name{{labels}} value [ms]', "
                f"got {line[:80]!r}"
            )
        if match["name"] != METRIC:
            continue
        labels = dict(_LABEL.findall(match["labels"] or ""))
        seconds = int(match["ts"]) / 1000 if match["ts"] else 0.0
        value = _float(match["value"])
        if not _sane(seconds if match["ts"] else EARLIEST.timestamp(), value):
            raise InputError(
                f"{item}:{number}: expected a size in bytes (finite, >= 0) and a time in ms "
                f"(1970 to 2262), got {line[:80]!r}"
            )
        when = pd.Timestamp(seconds, unit="s", tz="UTC") if match["ts"] else fallback
        if when is None:
            raise InputError(
                f"{item}:{number}: the sample has no timestamp and a buffer has no file time"
            )
        rows.append((when, labels, value))
    return _prometheus_rows(item, rows)


def _prometheus_json(item: Path | Buffer, text: str) -> pd.DataFrame:
    try:
        doc = json.loads(text)
        result = doc["data"]["result"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(
            f"{item}: not the JSON of a Prometheus range query (data.result) ({exc})"
        ) from exc
    rows = []
    try:
        for series in result:
            labels = series.get("metric", {})
            if labels.get("__name__", METRIC) != METRIC:
                continue
            for ts, value in series.get("values", []) or (
                [series["value"]] if "value" in series else []
            ):
                if not _sane(float(ts), _float(value)):
                    raise ValueError(f"[{ts}, {value}]")
                rows.append((pd.Timestamp(float(ts), unit="s", tz="UTC"), labels, float(value)))
    except (AttributeError, TypeError, ValueError) as exc:
        raise InputError(
            f"{item}: expected Prometheus series of [time, bytes] (finite, >= 0, times 1970 "
            f"to 2262), got {str(exc)[:80]}"
        ) from exc
    return _prometheus_rows(item, rows)


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _sane(seconds: float, size_bytes: float) -> bool:
    """A sample's time (epoch seconds) and size can be real: 1970 to 2262, 0 to 8 PiB."""
    return EARLIEST.timestamp() <= seconds < LATEST.timestamp() and 0 <= size_bytes < MAX_BYTES


_Sample = tuple[pd.Timestamp, dict[str, str], float]  # time, labels, bytes


def _prometheus_rows(item: Path | Buffer, rows: list[_Sample]) -> pd.DataFrame:
    if not rows:
        raise InputError(
            f"{item}: no {METRIC} samples (the metric is in bytes; other names are not memory)"
        )
    times, labels, values = zip(*rows, strict=True)
    pids = [int(lab["pid"]) if str(lab.get("pid", "")).isdigit() else pd.NA for lab in labels]
    text = [
        ",".join(f"{k}={v}" for k, v in sorted(lab.items()) if k != "__name__") for lab in labels
    ]
    return pd.DataFrame({
        "time": pd.DatetimeIndex(times), "pid": pd.array(pids, dtype="Int64"),
        "role": [lab.get("role", lab.get("job", "process")) for lab in labels],
        "rss_bytes": np.round(values).astype("int64"),
        "uss_bytes": pd.array([pd.NA] * len(rows), dtype="Int64"), "labels": text,
    })  # fmt: skip
