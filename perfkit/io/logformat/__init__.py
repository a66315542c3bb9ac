"""Access-log formats: the named ones, user format strings, and sniffing.

`resolve` turns what a user passes as ``format=`` into a compiled format:
a name from `list_formats()`, a Gunicorn ``access_log_format``, an nginx
``log_format``, an Apache ``LogFormat`` string, or a dict mapping perfkit
columns to JSON fields, or a file holding such a string (`FORMAT_FILE`,
which perfkit's recorder writes beside a log and `format_beside` finds).
`sniff` picks among `CANDIDATES` from sample lines.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfkit.errors import InputError
from perfkit.io.logformat import apache, gunicorn, nginx
from perfkit.io.logformat.fields import TIME_KINDS
from perfkit.io.logformat.jsonl import JsonFormat
from perfkit.io.logformat.spec import LogFormat
from perfkit.io.paths import locate, where_looked

__all__ = [
    "FORMAT_FILE",
    "JsonFormat",
    "LogFormat",
    "format_beside",
    "format_file",
    "list_formats",
    "read_format_file",
    "resolve",
    "sniff",
    "timing_fix",
]

FORMAT_FILE = "access_log_format.txt"  # the server's format string, saved beside its log

# server -> how to make it log each request's time (one line each)
TIMING_FIX: dict[str, str] = {
    "gunicorn": "Gunicorn: add `%(D)s` (microseconds) to `--access-logformat`, e.g. "
    '`\'%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s\'`',
    "nginx": "nginx: add `$request_time` (seconds) to your `log_format`, e.g. "
    '`log_format timed \'$remote_addr - $remote_user [$time_local] "$request" $status '
    '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time\';`',
    "apache": "Apache: add `%D` (microseconds) to your `LogFormat`, e.g. "
    '`LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" '
    '\\"%{User-agent}i\\" %D" timed`',
    "jsonl": "JSON lines: log the request's duration in a field such as `duration_ms` or "
    '`request_time` (or map yours with `format={"duration_ms": "took"}`)',
}

# name -> (server, format string, description)
NAMED: dict[str, tuple[str, str, str]] = {
    "gunicorn": ("gunicorn", gunicorn.DEFAULT, "Gunicorn's default access_log_format"),
    "gunicorn_timed": (
        "gunicorn",
        gunicorn.DEFAULT + " %(D)s",
        "Gunicorn's default format plus the request time in microseconds",
    ),
    "gunicorn_L": (
        "gunicorn",
        gunicorn.DEFAULT + ' "%(L)s"',
        "Gunicorn's default format plus the quoted request time in seconds",
    ),
    "gunicorn_D_p": (
        "gunicorn",
        gunicorn.DEFAULT + " %(D)s %(p)s",
        "Gunicorn's default format plus microseconds and <pid> (perfkit's recorder)",
    ),
    "gunicorn_p_D": (
        "gunicorn",
        gunicorn.DEFAULT + " %(p)s %(D)s",
        "Gunicorn's default format plus <pid> and microseconds",
    ),
    "gunicorn_T_D": (
        "gunicorn",
        gunicorn.DEFAULT + " %(T)s %(D)s",
        "Gunicorn's default format plus whole seconds and microseconds",
    ),
    "gunicorn_M": (
        "gunicorn",
        gunicorn.DEFAULT + " %(M)s",
        "Gunicorn's default format plus whole milliseconds",
    ),
    "gunicorn_p": (
        "gunicorn",
        gunicorn.DEFAULT + " %(p)s",
        "Gunicorn's default format plus <pid> (no request time)",
    ),
    "combined": ("apache", apache.COMBINED, "NCSA combined (Apache, nginx, Gunicorn default)"),
    "common": ("apache", apache.COMMON, "NCSA common log format"),
    "combined_us": ("apache", apache.COMBINED + " %D", "combined plus microseconds (%D)"),
    "combined_s": ("apache", apache.COMBINED + " %T", "combined plus whole seconds (%T)"),
    "nginx": ("nginx", nginx.COMBINED, "nginx's predefined 'combined'"),
    "nginx_main": ("nginx", nginx.MAIN, "nginx 'main' of Debian's nginx.conf"),
    "nginx_timed": (
        "nginx",
        nginx.COMBINED + " $request_time",
        "nginx combined plus $request_time (seconds)",
    ),
    "nginx_upstream": (
        "nginx",
        nginx.COMBINED + ' $request_time "$upstream_response_time"',
        "nginx combined plus $request_time and quoted $upstream_response_time",
    ),
    "nginx_upstream_bare": (
        "nginx",
        nginx.COMBINED + " $request_time $upstream_response_time",
        "nginx combined plus $request_time and bare $upstream_response_time",
    ),
    "jsonl": ("jsonl", "", "one JSON object per line, fields recognised by common names"),
}

# Tried by format="auto", most specific first: the one that reads the most sampled lines
# (matched and every field valid) wins, the first listed on a tie. A trailing integer too
# small for microseconds (median under `MIN_MEDIAN_US`) is read as whole seconds (Gunicorn
# %(T)s, Apache %T) when mostly 0 and at most `MAX_SECONDS`, else as milliseconds (%(M)s),
# with a note.
CANDIDATES = (
    "nginx_upstream",
    "gunicorn_T_D",  # before nginx_upstream_bare: '0 1643' (nginx writes '0.000 0.001')
    "nginx_upstream_bare",
    "gunicorn_D_p",
    "gunicorn_p_D",
    "combined_us",
    "gunicorn_p",  # after combined_us: its <pid> also reads a bare integer
    "nginx_timed",
    "gunicorn_L",
    "nginx_main",
    "combined",
    "common",
)
MIN_MEDIAN_US = 10.0  # no web request is served in under 10 µs: smaller integers are not µs
MAX_SECONDS = 600  # whole seconds beyond 10 minutes are implausible (worker timeouts)

_COMPILERS = {
    "gunicorn": gunicorn.compile_format,
    "nginx": nginx.compile_format,
    "apache": apache.compile_format,
}


def list_formats() -> pd.DataFrame:
    """The named formats `read_access_log(format=...)` accepts, with their strings."""
    rows = [
        {"name": name, "server": server, "format": text, "description": text_}
        for name, (server, text, text_) in NAMED.items()
    ]
    rows.append(
        {
            "name": "<format string>",
            "server": "gunicorn / nginx / apache",
            "format": "any access_log_format, log_format or LogFormat string",
            "description": "compiled by perfkit; the syntax tells the server",
        }
    )
    return pd.DataFrame(rows)


def named(name: str) -> LogFormat | JsonFormat:
    """The named format `name`."""
    server, text, _ = NAMED[name]
    if server == "jsonl":
        return JsonFormat()
    return _COMPILERS[server](text, name)


def format_file(fmt: object) -> Path | None:
    """The file `fmt` names when ``format=`` is a path (a `pathlib.Path`, or a string that is
    no named format nor format string and names an existing file; relative paths follow
    `perfkit.io.paths.locate`), else None."""
    if isinstance(fmt, os.PathLike):
        return locate(fmt)
    if not isinstance(fmt, str) or fmt == "auto" or fmt.strip().lower() in NAMED:
        return None
    if "\n" in fmt or any(m.looks_like(fmt) for m in (gunicorn, nginx)):
        return None
    path = locate(fmt)
    return path if path.is_file() else None


def read_format_file(path: str | os.PathLike[str]) -> str:
    """The format string held in `path`: its one non-blank line that is not a ``#`` comment.

    Raises `InputError` naming the file when it is missing, unreadable, empty, or holds
    more than one line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such format file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: unreadable log format ({exc})") from exc
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if len(lines) != 1:
        raise InputError(
            f"{path}: expected one line, the server's log format string (e.g. Gunicorn's "
            f"access_log_format), got {len(lines)} lines"
        )
    return lines[0]


def format_beside(path: object) -> Path | None:
    """The `FORMAT_FILE` in the folder of the log file `path`, when there is one."""
    if not isinstance(path, Path) or str(path) == "/dev/stdin":
        return None
    sidecar = path.parent / FORMAT_FILE
    return sidecar if sidecar.is_file() else None


def resolve(
    fmt: str | os.PathLike[str] | Mapping[str, str] | LogFormat | JsonFormat,
) -> LogFormat | JsonFormat:
    """Compile what a user passed as ``format=`` (anything but "auto"; a path to a format file
    is read with `read_format_file`)."""
    if isinstance(fmt, LogFormat | JsonFormat):
        return fmt
    path = format_file(fmt)
    if path is not None:
        return resolve(read_format_file(path))
    if isinstance(fmt, Mapping):
        return JsonFormat(dict(fmt))
    if not isinstance(fmt, str):
        raise InputError(
            f"format= must be a name, a format string or a dict, not {type(fmt).__name__}"
        )
    key = fmt.strip().lower()
    if key in ("json", "jsonlines", "ndjson"):
        key = "jsonl"
    if key in NAMED:
        return named(key)
    for server in ("gunicorn", "nginx", "apache"):
        module = {"gunicorn": gunicorn, "nginx": nginx, "apache": apache}[server]
        if module.looks_like(fmt):
            return _with_time(module.compile_format(fmt, name=f"{server} custom"))
    raise InputError(
        f"format={fmt!r} is neither a known name ({', '.join(NAMED)}), a Gunicorn, "
        "nginx or Apache format string, nor an existing file holding one"
        f"{where_looked(fmt) if ' ' not in fmt.strip() else ''}"
    )


def _with_time(fmt: LogFormat) -> LogFormat:
    if not fmt.kinds & TIME_KINDS:
        raise InputError(
            f"format {fmt.source!r} has no time field; a requests frame needs one "
            "(Gunicorn %(t)s, nginx $time_local/$time_iso8601/$msec, Apache %t or a complete "
            "%{FORMAT}t)"
        )
    return fmt


def sniff(lines: list[str], where: str, numbers: list[int] | None = None) -> LogFormat | JsonFormat:
    """Pick the format that reads the most of `lines` (sampled from the start, middle and end
    of a file; `numbers` are their line numbers, for the note when the format changed).

    Each candidate parses the sample the way a read would (pattern and field validation);
    when some sampled lines are read only by another candidate, the returned format carries
    a note saying where the format changed. Raises `InputError` naming `where` when no
    candidate reads any line.
    """
    keep = [i for i, line in enumerate(lines) if line.strip()]
    sample = [lines[i] for i in keep]
    numbers = [numbers[i] for i in keep] if numbers is not None else [i + 1 for i in keep]
    if not sample:
        raise InputError(f"{where}: no non-blank line to recognise the format from")
    if sum(line.lstrip().startswith("{") for line in sample) * 2 > len(sample):
        return named("jsonl")
    array = pa.array(sample, pa.string())
    matched: dict[str, np.ndarray] = {}
    for name in CANDIDATES:  # the pattern alone first (cheap): an upper bound of lines read
        fmt = named(name)
        assert isinstance(fmt, LogFormat)
        hits = pc.match_substring_regex(array, fmt.regex).to_numpy(zero_copy_only=False)
        if hits.any():
            matched[name] = hits
    read: dict[str, np.ndarray] = {}
    best_read = 0
    order = {name: k for k, name in enumerate(CANDIDATES)}
    for name in sorted(matched, key=lambda n: -int(matched[n].sum())):
        bound = int(matched[name].sum())  # lines it could read at most
        if bound <= best_read:
            best = max(read, key=lambda n: (int(read[n].sum()), -order[n]))
            loses = bound < best_read or order[name] > order[best]  # a tie goes to the first
            if loses and not (matched[name] & ~read[best]).any():  # validate only if it
                continue  # reads lines the best does not
        read[name] = _reads(array, named(name))
        best_read = max(best_read, int(read[name].sum()))
    if not read:
        raise InputError(
            f"{where}: could not recognise the log format from {len(sample)} sampled lines "
            f"(line {numbers[0]}: {sample[0][:200]!r}); pass format= a name from "
            "perfkit.list_formats() or the server's own format string"
        )
    best = max(read, key=lambda name: (int(read[name].sum()), -CANDIDATES.index(name)))
    fmt = named(best)
    assert isinstance(fmt, LogFormat)  # every candidate is
    if best == "combined_us":
        fmt = _seconds_when_tiny(array.filter(pa.array(read[best])), fmt, where)
    others = np.zeros(len(sample), bool)
    other_names = []
    for name, ok in read.items():
        if name != best and (ok & ~read[best]).any():
            others |= ok & ~read[best]
            other_names.append(name)
    if others.any():
        at = np.asarray(numbers)
        if at[others].max() < at[read[best]].min():  # the other format came first
            before, after = at[others].max(), at[read[best]].min()
        elif at[others].min() > at[read[best]].max():  # ... or last
            before, after = at[read[best]].max(), at[others].min()
        else:
            before = after = 0
        if after:
            where_changed = (
                f"at line {after}" if after == before + 1 else f"between lines {before} and {after}"
            )
        else:
            where_changed = "back and forth (lines of both formats are mixed)"
        note = (
            f"{where}: the log format changed {where_changed}: some sampled lines read only as "
            f"{' or '.join(other_names)}, more as {best}; the file is read as {best} and the "
            "other lines are rejected (pass format= to choose)"
        )
        fmt = replace(fmt, notes=(*fmt.notes, note))
    return fmt


def _seconds_when_tiny(array: pa.Array, fmt: LogFormat, where: str) -> LogFormat:
    """`fmt` (combined plus a trailing integer read as microseconds) when the integers' median
    is at least `MIN_MEDIAN_US`; else, with a note, whole seconds when most are 0 and none
    above `MAX_SECONDS`, or milliseconds."""
    from perfkit.io.logformat.parse import extract

    raw, _ = extract(array, fmt)
    name = next(f.name for f in fmt.fields if f.kind == "duration_us")
    values = pc.cast(raw[name], pa.float64()).to_numpy(zero_copy_only=False)
    median = float(np.nanmedian(values)) if len(values) else np.nan
    if not median < MIN_MEDIAN_US:
        return fmt
    zeros = float(np.mean(values == 0))
    if zeros >= 0.5 and np.nanmax(values) <= MAX_SECONDS:
        chosen, unit, other = named("combined_s"), "whole seconds (Gunicorn %(T)s, Apache %T)", (
            "milliseconds (Gunicorn %(M)s)")  # fmt: skip
    else:
        chosen, unit, other = named("gunicorn_M"), "milliseconds (Gunicorn %(M)s)", (
            "whole seconds (Gunicorn %(T)s)")  # fmt: skip
    assert isinstance(chosen, LogFormat)
    note = (
        f"{where}: the number after the user agent (median {median:g}, {zeros:.0%} zeros) is "
        f"too small for microseconds (Gunicorn %(D)s, Apache %D): read as {unit}; if it is "
        f"{other}, pass format= the server's format string"
    )
    return replace(chosen, notes=(*chosen.notes, note))


def _reads(array: pa.Array, fmt: LogFormat | JsonFormat) -> np.ndarray:
    """Which lines of `array` `fmt` reads: pattern matched and every field valid."""
    from perfkit.io.logformat.convert import Rejects, convert
    from perfkit.io.logformat.parse import extract

    assert isinstance(fmt, LogFormat)
    raw, matched = extract(array, fmt)
    rejects = Rejects(len(array))
    rejects.add(~matched, "no match")
    kinds = {f.name: f.kind for f in fmt.fields}
    convert(raw, kinds, fmt.server, None, rejects, fields={f.name: f for f in fmt.fields})
    return rejects.ok


def timing_fix(format_name: str = "", format_string: str = "") -> list[str]:
    """How to make the server that wrote a log record request times: one line per server that
    could have written it (Gunicorn's default format is NCSA combined, as are nginx's and
    Apache's, so a ``combined`` log gets all three)."""
    servers = [NAMED[n][0] for n in (x.strip() for x in format_name.split(",")) if n in NAMED]
    if format_string.startswith("{") or "jsonl" in servers:
        servers = ["jsonl"]
    elif "%(" in format_string:
        servers = ["gunicorn"]
    elif "$" in format_string:
        servers = ["nginx"]
    elif any(n.strip() in ("combined", "common") for n in format_name.split(",")) or not servers:
        servers = ["gunicorn", "nginx", "apache"]
    return [TIMING_FIX[s] for s in dict.fromkeys(servers)]
