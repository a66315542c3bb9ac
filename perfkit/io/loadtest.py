"""Load-test results: Locust's ``--csv`` output, ApacheBench ``-g``/``-e`` files, ``wrk --latency``.

Shapes, in snake_case with units in the names (ms, bytes, per second):

- **stats**: one row per request name (Locust's ``Aggregated`` row kept as
  ``name == "Aggregated"``): ``request_count``, ``failure_count``,
  ``median_ms``, ``mean_ms``, ``min_ms``, ``max_ms``, ``requests_per_s``,
  ``failures_per_s``, percentiles ``p50_ms`` ... ``p100_ms``;
- **history** (Locust): one row per time step and name: ``time`` (UTC),
  ``user_count``, ``requests_per_s``, ``failures_per_s``, percentiles and the
  running totals — what a capacity fit needs;
- **requests** (ApacheBench ``-g``): one row per request: ``time`` (UTC, whole
  seconds as ab writes them), ``connect_ms``, ``processing_ms``, ``wait_ms``,
  ``duration_ms``.

Locust writes ``N/A`` where it has no value yet: that becomes NaN.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from perfkit.errors import InputError, PerfkitWarning
from perfkit.io._dtypes import DtypeBackend, check_backend, to_backend
from perfkit.io.paths import Paths, locate

_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
_LOCUST_NAMES = {
    "type": "type", "name": "name", "request_count": "request_count",
    "failure_count": "failure_count", "median_response_time": "median_ms",
    "average_response_time": "mean_ms", "min_response_time": "min_ms",
    "max_response_time": "max_ms", "average_content_size": "average_content_size_bytes",
    "requests/s": "requests_per_s", "failures/s": "failures_per_s", "timestamp": "time",
    "user_count": "user_count", "total_request_count": "total_request_count",
    "total_failure_count": "total_failure_count", "total_median_response_time": "total_median_ms",
    "total_average_response_time": "total_mean_ms", "total_min_response_time": "total_min_ms",
    "total_max_response_time": "total_max_ms",
    "total_average_content_size": "total_average_content_size_bytes",
}  # fmt: skip


COUNTS = frozenset({"request_count", "failure_count", "user_count", "total_request_count",
                    "total_failure_count"})  # fmt: skip
LATEST_S = 9_200_000_000.0  # epoch seconds nanoseconds reach (2262); later is not a time


STATS_PATTERNS = ("<prefix>_stats.csv", "<prefix>_stats_history.csv")


def locust_prefixes(folder: str | Path) -> list[Path]:
    """Every ``<prefix>`` in `folder` with both ``<prefix>_stats.csv`` and
    ``<prefix>_stats_history.csv`` (what ``locust --csv <prefix>`` writes), sorted by name."""
    folder = Path(folder)
    stats = {p.name[: -len("_stats.csv")] for p in folder.glob("*_stats.csv")}
    history = {p.name[: -len("_stats_history.csv")] for p in folder.glob("*_stats_history.csv")}
    return [folder / name for name in sorted(stats & history) if name]


def find_locust(source: str | Path, prefix: str | None = None) -> Path:
    """The Locust ``--csv`` prefix `source` names: a prefix itself (``run/results``), one of
    the pair's files (``run/results_stats.csv``), or a folder holding exactly one
    ``<prefix>_stats.csv`` + ``<prefix>_stats_history.csv`` pair (`prefix` picks one when
    there are several). `InputError` when there is none (naming the
    patterns looked for) or several (listing them): two load tests in one folder are two runs,
    and silently reading one of them would mislead. Relative paths follow
    `perfkit.io.paths.locate` (the working directory, else the project root)."""
    given = Path(source)
    source = locate(source)
    if not source.exists():  # a bare prefix names no file: found by its stats file
        stats = locate(f"{given}_stats.csv")
        if stats.exists():
            source = stats.with_name(given.name)
    if not source.is_dir():
        if prefix is not None:
            raise InputError(f"{source}: no such folder (prefix={prefix!r} needs a folder)")
        for suffix in ("_stats_history.csv", "_stats.csv"):  # one of the pair's files, named
            if source.name.endswith(suffix) and len(source.name) > len(suffix):
                return source.with_name(source.name[: -len(suffix)])
        return source
    if prefix is not None:
        return source / prefix
    pairs = locust_prefixes(source)
    if len(pairs) == 1:
        return pairs[0]
    if not pairs:
        halves = sorted(p.name for p in (*source.glob("*_stats.csv"),
                                         *source.glob("*_stats_history.csv")))  # fmt: skip
        seen = f"; found only {', '.join(halves[:5])} without its other half" if halves else ""
        raise InputError(f"{source}: no Locust results: looked for a pair "
                         f"{' + '.join(STATS_PATTERNS)} (what `locust --csv <prefix>` writes)"
                         f"{seen}")  # fmt: skip
    names = ", ".join(p.name for p in pairs)
    raise InputError(f"{source}: {len(pairs)} Locust result sets ({names}): pass prefix= "
                     "(e.g. read_locust(folder, prefix=...)) to say which run to read")  # fmt: skip


TABLES = ("history", "stats")


def read_locust(
    source: str | Path,
    prefix: str | None = None,
    *,
    table: Literal["history", "stats"] | None = None,
    dtype_backend: DtypeBackend | None = None,
) -> pd.DataFrame:
    """One table of a Locust run as a frame: ``table="history"`` (``PREFIX_stats_history.csv``:
    one row per time step and request name) or ``table="stats"`` (``PREFIX_stats.csv``: one row
    per request name and the ``Aggregated`` total). `table` must be named: a run has two tables
    of equal standing, as a workbook has sheets (perfkit 0.1.0 returned both as a tuple; that
    call now raises an `InputError` saying what to write instead).

    `source` is the prefix (``run/results`` for ``run/results_stats.csv``), one of the pair's
    files, or a folder holding one ``<prefix>_stats.csv`` + ``<prefix>_stats_history.csv``
    pair (see `find_locust`; `prefix` chooses among several). Failures and exceptions
    (``PREFIX_failures.csv``, ``PREFIX_exceptions.csv``) ride along in ``attrs["perfkit"]``.
    `dtype_backend` as in `pandas.read_csv` (see `perfkit.io._dtypes`): None for pandas'
    defaults, ``"numpy_nullable"`` or ``"pyarrow"``. Bytes that are not UTF-8 are read as
    U+FFFD and counted; damaged history rows (a field count not the header's, a number not
    finite and >= 0, a time out of 1970..2262) are left out and counted in a `PerfkitWarning`
    (`InputError` when they are not a minority); in the stats table any damaged or truncated
    row is an `InputError`: a missing endpoint would mislead.
    """
    if table not in TABLES:
        got = "no table" if table is None else f"table={table!r}"
        raise InputError(
            f"read_locust reads one table of a Locust run into one frame, got {got}: pass "
            "table='history' (per time step: users, throughput, percentiles) or "
            "table='stats' (per request name: totals). It no longer returns "
            "(stats, history): write stats = read_locust(src, table='stats') and "
            "history = read_locust(src, table='history')"
        )
    check_backend(dtype_backend, "read_locust")
    found = find_locust(source, prefix)
    if table == "stats":
        frame = _locust_csv(found, "stats")
    else:
        frame = _locust_csv(found, "stats_history")
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    extras = {}
    for kind in ("failures", "exceptions"):
        path = found.with_name(f"{found.name}_{kind}.csv")
        if path.exists():
            extras[kind] = _extra_records(path)
    frame = to_backend(frame, dtype_backend, "read_locust")
    frame.attrs["perfkit"] = {"loader": "read_locust", "table": table, "prefix": str(found),
                              **extras}  # fmt: skip
    return frame


def _decoded(path: Path) -> str:
    """The text of `path`; bytes that are not UTF-8 become U+FFFD, counted in a warning."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    data = data.removeprefix(b"\xef\xbb\xbf")  # the byte order mark Excel writes
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
    lines = [n for n, line in enumerate(text.split("\n"), start=1) if "\ufffd" in line]
    shown = ", ".join(str(n) for n in lines[:10]) + (", ..." if len(lines) > 10 else "")
    plural = "s" if len(lines) > 1 else ""
    warnings.warn(
        f"{path}: {len(lines):,} line{plural} not UTF-8 (line{plural} {shown}): read with "
        "U+FFFD in place of the bad bytes",
        PerfkitWarning,
        stacklevel=4,
    )
    return text


def _locust_csv(prefix: Path, kind: str) -> pd.DataFrame:
    path = prefix.with_name(f"{prefix.name}_{kind}.csv")
    if not path.exists():
        raise InputError(
            f"{path}: no such file; expected the files `locust --csv {prefix.name}` writes "
            f"({prefix.name}_stats.csv and {prefix.name}_stats_history.csv)"
        )
    header, raw, damaged = csv_rows(_decoded(path))
    if kind == "stats" and damaged:  # one row per endpoint and a total: none may go missing
        line = min(damaged)
        raise InputError(f"{path}: row {line - 1} (line {line}) damaged or truncated: "
                         f"{damaged[line]}; the summary table would miss an endpoint")  # fmt: skip
    renamed = {}
    for column in header:
        percent = _PERCENT.match(column.strip())
        if percent:
            renamed[column] = "p" + percent[1].replace(".", "_") + "_ms"
        elif _snake(column) in _LOCUST_NAMES:
            renamed[column] = _LOCUST_NAMES[_snake(column)]
    if "name" not in renamed.values() or len(set(header)) != len(header):
        raise InputError(f"{path}: expected Locust's columns (Type, Name, ...), found {header}")
    frame = raw[["_line", *renamed]].rename(columns=renamed)
    numeric = [c for c in frame.columns if c not in ("_line", "type", "name")]
    frame = _numbers(path, frame, numeric, damaged, times=("time",), strict=kind == "stats")
    frame["name"] = frame["name"].astype(str)
    frame["type"] = frame["type"].astype(str) if "type" in frame else ""
    return frame.drop(columns="_line").reset_index(drop=True)


def _numbers(path: Path, frame: pd.DataFrame, columns: list[str], damaged: dict[int, str],
             times: tuple[str, ...] = (), strict: bool = False) -> pd.DataFrame:  # fmt: skip
    """`frame` with `columns` as numbers (``N/A`` or nothing: NaN), its damaged rows left out.

    A value must be finite and >= 0; counts (`COUNTS`) whole and below 2**53;
    `times` (epoch seconds) present and before 2262. A column whose kept
    values are all whole numbers written without a dot is int64, else
    float64 (as pandas infers). Columnar: one conversion for all columns.
    With `strict`, any damaged row is an `InputError` (a summary table).
    """
    rows = len(frame)
    text = pd.Series(frame[columns].to_numpy(dtype=object).ravel(order="F"), dtype=object)
    text = text.astype(str).str.strip()
    missing = text.isin(["N/A", ""]).to_numpy().reshape(len(columns), rows)
    numbers = pd.to_numeric(text.mask(text.isin(["N/A", ""])), errors="coerce")
    number: np.ndarray = numbers.to_numpy(np.float64).reshape(len(columns), rows)
    whole_flat = ~text.str.contains(r"[.eE]", regex=True).to_numpy(bool)
    written_whole: np.ndarray = whole_flat.reshape(len(columns), rows)
    with np.errstate(invalid="ignore"):
        ok = missing | (np.isfinite(number) & (number >= 0))
        for j, column in enumerate(columns):
            if column in COUNTS:
                ok[j] &= missing[j] | ((number[j] == np.floor(number[j])) & (number[j] < 2**53))
            if column in times:
                ok[j] &= ~missing[j] & (number[j] < LATEST_S)
    bad = ~ok.all(axis=0)
    lines = frame["_line"].to_numpy()
    rows_bad = np.flatnonzero(bad)
    first = np.argmax(~ok[:, rows_bad], axis=0) if len(rows_bad) else rows_bad
    for k, (at, j) in enumerate(zip(rows_bad.tolist(), first.tolist(), strict=True)):
        got = f", got {str(frame[columns[j]].iloc[at])[:60]!r}" if k < 20 else ""
        damaged[int(lines[at])] = f"expected a number >= 0 in {columns[j]}{got}"
    left_out(path, damaged, 0 if strict else int((~bad).sum()), stacklevel=5)
    keep = ~bad
    frame = frame[keep].copy()
    for j, column in enumerate(columns):
        values, gaps = number[j][keep], missing[j][keep]
        whole = not gaps.any() and written_whole[j][keep].all() and (values < 2**53).all()
        frame[column] = values.astype(np.int64) if whole else np.where(gaps, np.nan, values)
    return frame


def _extra_records(path: Path) -> list[dict[str, object]]:
    """The rows of a Locust failures/exceptions CSV as dicts (numbers where a column is)."""
    header, raw, damaged = csv_rows(_decoded(path))
    left_out(path, damaged, len(raw), stacklevel=5)
    frame = raw.drop(columns="_line")
    frame.columns = [_snake(c) for c in header]
    for column in frame.columns:
        number = pd.to_numeric(frame[column], errors="coerce")
        if len(frame) and number.notna().all():
            frame[column] = number
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{str(k): v for k, v in record.items()} for record in records]


def csv_rows(text: str, sep: str = ",") -> tuple[list[str], pd.DataFrame, dict[int, str]]:
    """Header, rows and damaged lines of delimited `text`; every field a string.

    Each row keeps its line number in ``_line``. A row whose field count is not
    the header's (a partial or glued row) is left out and returned as
    ``{line: reason}``. Columnar (pyarrow string kernels); only lines holding a
    quote go through the csv module.
    """
    import csv

    import pyarrow as pa
    import pyarrow.compute as pc

    lines = text.split("\n")
    try:
        header = next(csv.reader([lines[0].rstrip("\r")], delimiter=sep), [])
    except csv.Error:  # a stray carriage return inside the header line
        header = lines[0].rstrip("\r").split(sep)
    width = len(header)
    body = pc.utf8_rtrim(pa.array(lines[1:], pa.string()), characters="\r")
    del lines
    numbers = np.arange(2, len(body) + 2)
    filled = pc.greater(pc.utf8_length(body), 0).to_numpy(zero_copy_only=False)
    quoted = pc.match_substring(body, '"').to_numpy(zero_copy_only=False)
    fields = pc.add(pc.count_substring(body, sep), 1).to_numpy(zero_copy_only=False)
    whole = filled & ~quoted & (fields == width)
    split = pc.split_pattern(body.filter(pa.array(whole)), sep)
    columns = [pc.list_element(split, i).to_numpy(zero_copy_only=False) for i in range(width)]
    frame = pd.DataFrame(dict(enumerate(columns)), index=numbers[whole])
    wrong = filled & ~quoted & ~whole
    damaged = {
        int(n): f"expected {width} fields as in the header, got {k} (a partial or glued row)"
        for n, k in zip(numbers[wrong], fields[wrong], strict=True)
    }
    extra = {}
    for n in numbers[filled & quoted].tolist():
        try:
            row = next(csv.reader([body[n - 2].as_py()], delimiter=sep), [])
        except csv.Error as exc:  # a stray carriage return inside a quoted line
            damaged[n] = f"not a CSV row ({exc})"
            continue
        if len(row) == width:
            extra[n] = row
        else:
            damaged[n] = f"expected {width} fields as in the header, got {len(row)}"
    if extra:
        frame = pd.concat([frame, pd.DataFrame.from_dict(extra, orient="index")]).sort_index()
    frame.columns = header
    return header, frame.rename_axis("_line").reset_index(), damaged


def left_out(path: object, damaged: dict[int, str], kept: int, stacklevel: int = 3) -> None:
    """Damaged rows: a `PerfkitWarning` naming the file, their count and lines; `InputError`
    at the first when they are not a minority (the file is not what it seems)."""
    if not damaged:
        return
    lines = sorted(damaged)
    first = lines[0]
    if len(lines) >= kept:
        total = f" ({len(lines):,} of {len(lines) + kept:,} rows damaged)" if kept else ""
        raise InputError(f"{path}:{first}: {damaged[first]}{total}")
    shown = ", ".join(str(n) for n in lines[:10]) + (", ..." if len(lines) > 10 else "")
    plural = "s" if len(lines) > 1 else ""
    warnings.warn(
        f"{path}: {len(lines):,} damaged row{plural} left out (line{plural} {shown}); "
        f"line {first}: {damaged[first]}",
        PerfkitWarning,
        stacklevel=stacklevel,
    )


def _snake(text: str) -> str:
    return re.sub(r"\s+", "_", text.strip().lower())


def _one_text(source: Paths) -> tuple[Path, str]:
    """The name and text of one input: a path, a .gz/.bz2/.xz file or an open file."""
    from perfkit.io.paths import Buffer, expand_paths
    from perfkit.io.textfiles import open_binary

    items = expand_paths(source)
    if len(items) != 1:
        raise InputError(f"expected one file, got {len(items)}")
    item = items[0]
    if isinstance(item, Buffer):
        return Path(item.name), item.data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    with open_binary(item) as handle:
        return item, handle.read().decode("utf-8", errors="replace").removeprefix("\ufeff")


def read_ab(source: Paths, dtype_backend: DtypeBackend | None = None) -> pd.DataFrame:
    """ApacheBench output: ``-g`` TSV (one row per request) or ``-e`` CSV (a stats row).

    `dtype_backend` as in `pandas.read_csv`: None (pandas' defaults), ``"numpy_nullable"``
    or ``"pyarrow"``."""
    check_backend(dtype_backend, "read_ab")
    path, text = _one_text(source)
    first = text.splitlines()[0] if text.strip() else ""
    if first.startswith("starttime\tseconds"):
        return to_backend(_ab_requests(path, text), dtype_backend, "read_ab")
    if first.startswith("Percentage served"):
        return to_backend(_ab_percentiles(path, text), dtype_backend, "read_ab")
    raise InputError(
        f"{path}: expected ab -g (starttime\\tseconds...) or ab -e (Percentage served,...) output"
    )


def _ab_requests(path: Path, text: str) -> pd.DataFrame:
    header, raw, damaged = csv_rows(text, "\t")
    needed = ["seconds", "ctime", "dtime", "ttime", "wait"]
    if not set(needed) <= set(header) or len(set(header)) != len(header):
        raise InputError(f"{path}: ab -g file without its columns {sorted(needed)}")
    raw = _numbers(path, raw, needed, damaged, times=("seconds",))
    frame = pd.DataFrame({
        "time": pd.to_datetime(raw["seconds"].to_numpy(), unit="s", utc=True),
        "connect_ms": raw["ctime"].to_numpy(np.float64),
        "processing_ms": raw["dtime"].to_numpy(np.float64),
        "wait_ms": raw["wait"].to_numpy(np.float64),
        "duration_ms": raw["ttime"].to_numpy(np.float64),
    })  # fmt: skip
    return frame.sort_values("time", kind="stable", ignore_index=True)


def _ab_percentiles(path: Path, text: str) -> pd.DataFrame:
    header, raw, damaged = csv_rows(text)
    if len(header) != 2:
        raise InputError(f"{path}: expected ab -e's two columns (Percentage served,Time in ms)")
    raw.columns = ["_line", "percent", "ms"]
    raw = _numbers(path, raw, ["percent", "ms"], damaged)
    raw = raw[raw["percent"].notna() & raw["ms"].notna()]
    outside = (raw["percent"] > 100) | (raw["percent"] != raw["percent"].round())
    if outside.any():
        line = int(raw.loc[outside, "_line"].iloc[0])
        raise InputError(f"{path}:{line}: expected a whole percentage 0 to 100")
    raw = raw.drop_duplicates(["percent", "ms"])
    twice = raw["percent"].duplicated()
    if twice.any():
        line = int(raw.loc[twice, "_line"].iloc[0])
        raise InputError(f"{path}:{line}: a percentage given twice, with two times")
    raw = raw.sort_values("percent", kind="stable")
    falls = raw["ms"].diff() < 0
    if falls.any():
        line = int(raw.loc[falls, "_line"].iloc[0])
        raise InputError(
            f"{path}:{line}: the time is below a smaller percentage's; ab -e times only grow"
        )
    values = dict(zip(raw["percent"].astype(int), raw["ms"].astype(float), strict=True))
    row: dict[str, object] = {"type": "ab", "name": path.name.split(".")[0]}
    row.update(
        {f"p{p}_ms": values[p] for p in (50, 66, 75, 80, 90, 95, 98, 99, 100) if p in values}
    )
    return pd.DataFrame([row])


_WRK_TIME = re.compile(r"^([\d.]+)(us|ms|s|m|h)$")
_WRK_SCALE = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}
_WRK_BYTES = re.compile(r"^([\d.]+)(B|KB|MB|GB)$")
_WRK_BYTE_SCALE = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def read_wrk(source: Paths, dtype_backend: DtypeBackend | None = None) -> pd.DataFrame:
    """A ``wrk --latency`` summary as one stats row (latency percentiles, throughput, errors).

    `dtype_backend` as in `pandas.read_csv`: None (pandas' defaults), ``"numpy_nullable"``
    or ``"pyarrow"``."""
    check_backend(dtype_backend, "read_wrk")
    path, text = _one_text(source)
    target = re.search(r"Running .* test @ (\S+)", text)
    latency = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", text, re.MULTILINE)
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h),\s+(\S+) read", text)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not (target and latency and total and rate):
        raise InputError(
            f"{path}: expected the output of `wrk --latency` "
            "(Running ... test @, Latency, Requests/sec)"
        )
    row = {
        "type": "wrk",
        "name": target[1],
        "request_count": _count(total[1], path, "the requests"),
        "duration_s": _ms(f"{total[2]}{total[3]}", path) / 1e3,
        "requests_per_s": _number(rate[1], path, "Requests/sec"),
        "mean_ms": _ms(latency[1], path),
        "stdev_ms": _ms(latency[2], path),
        "max_ms": _ms(latency[3], path),
        "read_bytes": _bytes(total[4], path),
    }
    for percent, value in re.findall(r"^\s*(\d+)%\s+(\S+)\s*$", text, re.MULTILINE):
        row[f"p{percent}_ms"] = _ms(value, path)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    row["socket_errors"] = (
        sum(_count(e, path, "socket errors") for e in errors.groups()) if errors else 0
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    row["failure_count"] = _count(non_2xx[1], path, "non-2xx responses") if non_2xx else 0
    return to_backend(pd.DataFrame([row]), dtype_backend, "read_wrk")


def _ms(value: str, path: Path) -> float:
    match = _WRK_TIME.match(value)
    number = _finite(match[1]) if match else None
    if match is None or number is None:
        raise InputError(f"{path}: expected a wrk duration like 83.87ms, got {value!r}")
    return float(number * _WRK_SCALE[match[2]])


def _bytes(value: str, path: Path) -> float:
    match = _WRK_BYTES.match(value)
    number = _finite(match[1]) if match else None
    if match is None or number is None:
        raise InputError(f"{path}: expected a wrk size like 44.10KB, got {value!r}")
    return float(number * _WRK_BYTE_SCALE[match[2]])


def _finite(text: str) -> float | None:
    """The number in `text` when it is one, finite, >= 0 and below 2**53; else None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if 0 <= number < 2**53 else None


def _number(text: str, path: Path, what: str) -> float:
    number = _finite(text)
    if number is None:
        raise InputError(f"{path}: expected {what} as a number >= 0, got {text[:40]!r}")
    return number


def _count(text: str, path: Path, what: str) -> int:
    number = _finite(text)
    if number is None or number != int(number):
        raise InputError(f"{path}: expected {what} as a count below 2**53, got {text[:40]!r}")
    return int(number)


def throughput(history: pd.DataFrame) -> pd.DataFrame:
    """Locust history reduced to the capacity fit's input: users and throughput per time step."""
    rows = history[history["name"] == "Aggregated"]
    return (
        rows[["time", "user_count", "requests_per_s", "failures_per_s"]]
        .reset_index(drop=True)
        .replace({np.inf: np.nan})
    )
