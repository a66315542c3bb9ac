"""psql CSV exports of PostgreSQL statistics views.

Made e.g. with
``\\copy (select now() as snapshot_time, * from pg_stat_statements) to 'x.csv' csv header``.
A plain ``select *`` export has no ``snapshot_time``: it is then taken from the
``snapshot_time=`` argument or from a timestamp in the file name
(``statements-20240101T120000Z.csv``, ``2024-01-01_12-00-00.csv``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from perfkit.errors import InputError
from perfkit.io.pg_stat import RENAMES

_STAMP = re.compile(
    r"(?P<y>\d{4})-?(?P<m>\d{2})-?(?P<d>\d{2})[T_ -]?"
    r"(?P<H>\d{2})[:-]?(?P<M>\d{2})[:-]?(?P<S>\d{2})(?P<z>Z)?"
)


def read_csv_export(path: Path, snapshot_time=None) -> pd.DataFrame:
    """One psql CSV export with ``snapshot_time`` and PostgreSQL's (newest) column names."""
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: not a CSV export with a header line ({exc})") from exc
    frame = frame.rename(columns=RENAMES)
    if "snapshot_time" in frame:
        frame["snapshot_time"] = pd.to_datetime(frame["snapshot_time"], utc=True, format="mixed")
        return frame
    stamp = snapshot_time if snapshot_time is not None else _from_name(path)
    if stamp is None:
        raise InputError(
            f"{path}: no snapshot_time column and no timestamp in the file name; export with "
            "`select now() as snapshot_time, * from ...` or pass snapshot_time="
        )
    frame.insert(
        0,
        "snapshot_time",
        pd.Timestamp(stamp, tz="UTC")
        if pd.Timestamp(stamp).tzinfo is None
        else pd.Timestamp(stamp),
    )
    return frame


def _from_name(path: Path):
    match = _STAMP.search(path.name)
    if match is None:
        return None
    parts = {k: int(v) for k, v in match.groupdict().items() if k != "z"}
    return pd.Timestamp(
        year=parts["y"],
        month=parts["m"],
        day=parts["d"],
        hour=parts["H"],
        minute=parts["M"],
        second=parts["S"],
        tz="UTC",
    )
