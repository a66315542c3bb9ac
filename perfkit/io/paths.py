"""Expand what a loader was given into an ordered list of files.

Loaders accept one path, a glob pattern, or a list of either. Rotated sets are
put in time order: ``access.log.3.gz`` (oldest), ``access.log.2.gz``,
``access.log.1``, ``access.log`` (newest); date-stamped rotations
(``access.log-20240101.gz``) sort by their stamp, before the live file.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable
from pathlib import Path

from perfkit.errors import InputError

PathLike = str | os.PathLike
Paths = PathLike | Iterable[PathLike]

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")
_ROTATION = re.compile(r"^(?P<base>.*?)(?:[.-](?P<stamp>\d+))?$")
_GLOB_CHARS = re.compile(r"[*?\[]")


def expand_paths(paths: Paths) -> list[Path]:
    """Return the files named by `paths` (path, glob or list), oldest rotation first.

    Raises `InputError` for a path that does not exist or a glob that matches
    nothing, naming it.
    """
    if isinstance(paths, str | os.PathLike):
        items: list[PathLike] = [paths]
    else:
        items = list(paths)
    if not items:
        raise InputError("no input files were given")
    found: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if _GLOB_CHARS.search(text) and not os.path.exists(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise InputError(f"{text}: the pattern matches no file")
            found.extend(Path(m) for m in matches if os.path.isfile(m))
            continue
        path = Path(text)
        if not path.exists():
            raise InputError(f"{path}: no such file")
        if path.is_dir():
            raise InputError(
                f"{path}: is a folder; pass the log files in it (e.g. '{path}/*.log*')"
            )
        found.append(path)
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=rotation_key)


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
