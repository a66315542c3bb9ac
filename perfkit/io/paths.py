"""Expand what a loader was given into an ordered list of files.

Loaders accept one path, a glob pattern, ``-`` for standard input, an open
file (binary or text, e.g. ``io.BytesIO``), or a list of them. Rotated sets are
put in time order: ``access.log.3.gz`` (oldest), ``access.log.2.gz``,
``access.log.1``, ``access.log`` (newest); date-stamped rotations
(``access.log-20240101.gz``) sort by their stamp, before the live file.

Relative paths, one rule for every loader and report (`locate`): a relative
path or glob is taken as given, relative to the working directory; when
nothing is there, relative to the project root, the nearest folder at or
above the working directory holding a ``pyproject.toml`` that names perfkit,
or both ``notebooks/`` and ``data/``. So ``"data/baseline/access.log*"``
reads the same from the repository and from a notebook in ``notebooks/``,
whether perfkit is installed editable or not.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import lzma
import os
import re
import stat
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from perfkit.errors import InputError

PathLike = str | os.PathLike[str]
Paths = PathLike | IO[Any] | Iterable[PathLike | IO[Any]]  # IO: an open file, text or binary

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")
STDIN = "-"  # as a path: standard input, read as a stream (gzip/bz2/xz told by magic bytes)
STDIN_PATH = Path("/dev/stdin")
_ROTATION = re.compile(r"^(?P<base>.*?)(?:[.-](?P<stamp>\d+))?\Z", re.DOTALL)
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Buffer:
    """An input already open or in memory: its bytes (decompressed) and a name for messages."""

    name: str
    data: bytes
    suffix: str = ""

    def __str__(self) -> str:
        return self.name


_MAGIC = {b"\x1f\x8b": gzip.decompress, b"BZh": bz2.decompress, b"\xfd7zXZ\x00": lzma.decompress}


def read_buffer(handle: IO[Any]) -> Buffer:
    """Read an open file (binary or text) into a `Buffer`, decompressing gzip/bz2/xz data."""
    name = str(getattr(handle, "name", "<buffer>"))
    data = handle.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    for magic, decompress in _MAGIC.items():
        if data.startswith(magic):
            try:
                data = decompress(data)
            except (OSError, EOFError, lzma.LZMAError) as exc:
                raise InputError(f"{name}: compressed data is damaged ({exc})") from exc
            break
    return Buffer(name, bytes(data))


def project_root(start: PathLike | None = None) -> Path | None:
    """The nearest folder at or above `start` (default: the working directory) that holds a
    ``pyproject.toml`` naming perfkit, or both a ``notebooks/`` and a ``data/`` folder; None
    when there is none."""
    if start is None:
        try:
            start = os.getcwd()
        except OSError:  # the working directory was deleted
            return None
    here = Path(start).absolute()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "data").is_dir():
            return folder
        if _names_perfkit(folder / "pyproject.toml"):
            return folder
    return None


def _names_perfkit(pyproject: Path) -> bool:
    try:
        with open(pyproject, "rb") as handle:
            project = tomllib.load(handle).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return isinstance(project, dict) and project.get("name") == "perfkit"


def locate(path: PathLike) -> Path:
    """Where a relative `path` (or glob) points under the module's rule: as given when it
    exists (or matches) relative to the working directory, else relative to `project_root`
    when it exists (or matches) there; otherwise `path` unchanged (absolute paths, ``-`` and
    missing paths too), for the caller's own error."""
    text = os.fspath(path)
    if not text or text == STDIN or os.path.isabs(text) or _exists(text):
        return Path(text)  # "" names nothing (an empty DSN is libpq's defaults), not the root
    root = project_root()
    if root is not None and _exists(str(root / text)):
        return root / text
    return Path(text)


def _exists(text: str) -> bool:
    return os.path.exists(text) or bool(_GLOB_CHARS.search(text) and glob.glob(text))


def where_looked(text: str) -> str:
    """Where a missing relative path was looked for, for its error message."""
    if os.path.isabs(text):
        return ""
    root = project_root()
    try:
        cwd = os.getcwd()
    except OSError:
        return " (the working directory no longer exists)"
    places = f"the working directory {cwd}"
    if root is not None and root != Path(cwd).absolute():
        places += f" and the project root {root}"
    return f" (looked in {places})"


def expand_paths(paths: Paths) -> list[Path | Buffer]:
    """Return the inputs named by `paths`: open files in the order given, then files, oldest first.

    ``"-"`` stands for standard input (``/dev/stdin``); it, pipes, FIFOs and
    process substitutions (``<(zcat access.log.gz)``) are read as streams.
    Relative paths follow `locate` (the working directory, then the project root).
    Raises `InputError` naming a path that does not exist, or a glob that
    matches no file.
    """
    if isinstance(paths, str | os.PathLike) or hasattr(paths, "read"):
        items: list[Any] = [paths]
    else:
        items = list(paths)
    if not items:
        raise InputError("no input files were given")
    buffers = [read_buffer(item) for item in items if hasattr(item, "read")]
    items = [item for item in items if not hasattr(item, "read")]
    found: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if text == STDIN:
            found.append(STDIN_PATH)
            continue
        given, text = text, os.fspath(locate(text))
        if _GLOB_CHARS.search(text) and not os.path.exists(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise InputError(f"{given}: the pattern matches no file{where_looked(given)}")
            files = [Path(m) for m in matches if not os.path.isdir(m)]
            if not files:
                raise InputError(
                    f"{text}: the pattern matches only folders ({len(matches)}), no file; "
                    f"match the files in them (e.g. '{os.path.join(text, '*.log*')}')"
                )
            found.extend(files)
            continue
        path = Path(text)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise InputError(f"{path}: no such file{where_looked(given)}") from None
        except OSError as exc:  # e.g. a folder on the way that we may not enter
            raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc
        if stat.S_ISDIR(mode):
            raise InputError(
                f"{path}: is a folder; pass the log files in it (e.g. '{path}/*.log*')"
            )
        found.append(path)
    unique = list(dict.fromkeys(found))
    return [*buffers, *sorted(unique, key=rotation_key)]


def strip_compression(name: str) -> str:
    """`name` without a trailing .gz/.bz2/.xz."""
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def rotation_key(path: Path) -> tuple[str, str, int, int]:
    """Sort key putting the rotations of one log oldest first, the live file last.

    Numbered rotations (``.1``, ``.2``) count up into the past; date stamps
    (``-20240101``, 8+ digits) count up into the future.
    """
    name = strip_compression(path.name)
    match = _ROTATION.match(name)
    assert match is not None  # the pattern matches every string
    stamp = match["stamp"]
    base = os.path.join(str(path.parent), match["base"])
    if stamp is None:
        return (base, "", 2, 0)  # the live file comes last
    number = int(stamp)
    if len(stamp) >= 8:  # a date stamp: larger is newer
        return (base, "", 1, number)
    return (base, "", 0, -number)  # a rotation counter: larger is older


def make_folder(folder: PathLike, label: str, holds: str) -> Path:
    """Create `folder` (and its parents) when missing; an `InputError` starting with `label`
    when a file is in the way ("not a folder; expected a folder for `holds`") or the folder
    cannot be created (read-only, permissions)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{label}: cannot create the folder {folder}: not a folder (a file is "
                         f"in the way); expected a folder for {holds}")  # fmt: skip
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{label}: cannot create the folder {folder} "
                         f"({exc.strerror or exc})") from None  # fmt: skip
    return folder


def expand_with_folders(paths: Paths, patterns: tuple[str, ...], what: str) -> list[Path | Buffer]:
    """`expand_paths`, where a folder stands for the files in it matching `patterns` (globs
    relative to it, e.g. ``("*.lprof*", "lprof/*.lprof*")``); a folder with none is an
    `InputError` that says `what` was expected."""
    given: list[Any] = (
        [paths] if isinstance(paths, str | os.PathLike) or hasattr(paths, "read") else list(paths)
    )
    out: list[Path | Buffer] = []
    rest: list[Any] = []
    for item in given:
        if isinstance(item, str | os.PathLike) and Path(item).is_dir():
            found = sorted({p for pattern in patterns for p in Path(item).glob(pattern)})
            if not found:
                raise InputError(f"{item}: a folder with no {what} ({', '.join(patterns)})")
            out.extend(found)
        else:
            rest.append(item)
    return out + (expand_paths(rest) if rest else [])
