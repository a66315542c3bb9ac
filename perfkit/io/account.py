"""The parse account: what a loader read, kept, rejected and why.

It lives in ``df.attrs["perfkit"]`` as plain JSON-able data (pandas copies
attrs along with the frame and writes them into Parquet metadata), and
`ParseAccount` reads it back with helpers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

KEEP_REJECTED = 1000  # rejected lines kept verbatim; every one is counted
KEEP_TEXT_CHARS = 2000


@dataclass
class ParseAccount:
    """Counts and samples of one load. ``lines == parsed + rejected`` always holds."""

    loader: str
    format: str = ""
    format_string: str = ""
    lines: int = 0
    parsed: int = 0
    rejected: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    rejected_lines: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    routes: dict[str, Any] = field(default_factory=dict)
    timed: int | None = None  # requests with a duration (None: not counted, e.g. per partition)

    def keep(self, file: str, line: int, reason: str, text: str) -> None:
        """Record one rejected line verbatim while fewer than `KEEP_REJECTED` are kept."""
        if len(self.rejected_lines) < KEEP_REJECTED:
            clipped = text if len(text) <= KEEP_TEXT_CHARS else text[:KEEP_TEXT_CHARS] + "…"
            self.rejected_lines.append(
                {"file": file, "line": line, "reason": reason, "text": clipped}
            )

    @property
    def room(self) -> int:
        return KEEP_REJECTED - len(self.rejected_lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "loader": self.loader,
            "format": self.format,
            "format_string": self.format_string,
            "lines": self.lines,
            "parsed": self.parsed,
            "rejected": self.rejected,
            "files": self.files,
            "reasons": dict(self.reasons.most_common()),
            "rejected_lines": self.rejected_lines,
            "rejected_kept": len(self.rejected_lines),
            "notes": self.notes,
            "routes": self.routes,
            "timed": self.timed,
            "durations": self.durations,
        }

    @property
    def durations(self) -> str | None:
        """``present``, ``partial`` or ``absent``: whether the requests carry their time."""
        if self.timed is None:
            return None
        return "absent" if self.timed == 0 else "partial" if self.timed < self.parsed else "present"

    def summary(self) -> str:
        """One line such as '17 of 10,000 lines rejected; first at access.log:42 (...)'."""
        text = f"{self.rejected:,} of {self.lines:,} lines were rejected"
        if self.rejected_lines:
            first = self.rejected_lines[0]
            text += f"; first at {first['file']}:{first['line']} ({first['reason']})"
        return text


def parse_account(df: pd.DataFrame) -> dict[str, Any]:
    """The parse account a perfkit loader attached to `df`."""
    try:
        account: dict[str, Any] = df.attrs["perfkit"]
    except KeyError:
        raise KeyError(
            "this frame carries no perfkit parse account (df.attrs['perfkit'])"
        ) from None
    return account


def rejected_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The kept rejected lines of `df`'s parse account as a frame (file, line, reason, text)."""
    rows = parse_account(df).get("rejected_lines", [])
    return pd.DataFrame(rows, columns=["file", "line", "reason", "text"])
