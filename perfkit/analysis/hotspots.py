"""Hot spots: where a profile's time goes, by function and by kind of code.

Each function is the application's own code (``app``), a third-party
library (``library``, with its package: sqlalchemy, jinja2, psycopg,
requests...) or the standard library (``stdlib``). C built-ins (pstats file
``~``, e.g. ``socket.recv_into`` or ``sqlite3.Cursor.execute``) have no file
of their own: their own time is charged to the group of the Python function
that called them, in proportion to each caller edge, so time spent waiting
on a socket under ``requests`` counts as ``requests``. Own times add up to
the profile's total, so group shares add up to 1.
"""

from __future__ import annotations

import sys
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import cast

import pandas as pd

from perfkit.io.profile import Profile

GROUPS = ("app", "library", "stdlib")
_STDLIB = tuple(
    str(PurePosixPath(p)) + "/"
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
)
_LIBRARY_MARKERS = ("/site-packages/", "/dist-packages/")


@dataclass
class HotSpots:
    """Top functions by own and by cumulative time, and time per group and package."""

    by_self: pd.DataFrame
    by_cumulative: pd.DataFrame
    groups: pd.DataFrame
    total_s: float

    def _display_parts(self) -> tuple[str, list[tuple[str, object]]]:
        from perfkit._display import one_line

        headline = f"{self.total_s:.3g} s of own time"
        facts: list[tuple[str, object]] = []
        if len(self.by_self):
            top = self.by_self.iloc[0]
            headline += f", most in {one_line(top['name'], 60)} ({top['share']:.0%})"
        if len(self.groups):
            shares = self.groups.groupby("group", sort=False)["share"].sum()
            facts.append(("by group", ", ".join(f"{g} {v:.0%}" for g, v in
                                                shares.sort_values(ascending=False).items())))
        facts.append(("tables", f"by_self and by_cumulative ({len(self.by_self)} functions), "
                                f"groups ({len(self.groups)} packages)"))
        return headline, facts

    def __repr__(self) -> str:
        """The total, the top function and the share per group, a few lines."""
        from perfkit._display import text_repr

        return text_repr("HotSpots", *self._display_parts())

    def _repr_html_(self) -> str:
        from perfkit._display import html_repr

        headline, facts = self._display_parts()
        return html_repr("HotSpots", headline, facts,
                         self.by_self[["name", "group", "package", "ncalls", "tottime_s",
                                       "cumtime_s", "share"]], index=False)  # fmt: skip


@lru_cache(maxsize=65536)
def classify(file: str) -> tuple[str, str]:
    """(group, package) of a source file as profilers report it; ``("builtin", "")`` for C code."""
    if file in ("~", ""):
        return ("builtin", "")
    if file.startswith("<frozen "):
        return ("stdlib", file[8:].rstrip(">").split(".")[0])
    if file.startswith("<"):  # <string>, <stdin>, a notebook cell: code the user ran
        return ("app", "")
    path = file.replace("\\", "/")
    for marker in _LIBRARY_MARKERS:
        if marker in path:
            package = path.split(marker, 1)[1].split("/", 1)[0]
            return ("library", package.removesuffix(".py").split("-")[0])
    if path.startswith(_STDLIB):
        rest = path[len(next(p for p in _STDLIB if path.startswith(p))) :]
        return ("stdlib", rest.split("/", 1)[0].removesuffix(".py"))
    head = path.split("/", 1)[0].removesuffix(".py")
    if not path.startswith("/") and head in sys.stdlib_module_names:  # py-spy shortens stdlib paths
        return ("stdlib", head)
    return ("app", "")


def hotspots(profile: Profile, top: int = 15) -> HotSpots:
    """The `top` functions by own and by cumulative time, and the time of each group/package."""
    functions = profile.functions.copy()
    kinds = [classify(f) for f in functions["file"]]
    functions["group"] = [k[0] for k in kinds]
    functions["package"] = [k[1] for k in kinds]
    total = profile.total_s
    functions["share"] = functions["tottime_s"] / total if total else 0.0
    columns = ["function", "name", "group", "package", "ncalls", "tottime_s", "cumtime_s", "share"]
    by_self = functions.nlargest(top, "tottime_s")[columns].reset_index(drop=True)
    by_cumulative = functions.nlargest(top, "cumtime_s")[columns].reset_index(drop=True)
    return HotSpots(by_self, by_cumulative, _group_times(functions, profile.edges, total), total)


def _group_times(functions: pd.DataFrame, edges: pd.DataFrame, total: float) -> pd.DataFrame:
    own = functions[functions["group"] != "builtin"][["group", "package", "tottime_s"]]
    builtin = functions.loc[functions["group"] == "builtin", ["function", "tottime_s"]]
    charged = _charge_builtins(builtin, functions, edges)
    times = pd.concat([own, charged], ignore_index=True)
    groups = cast(  # as_index=False: a frame
        pd.DataFrame, times.groupby(["group", "package"], as_index=False)["tottime_s"].sum()
    )
    groups = groups.rename(columns={"tottime_s": "self_s"})
    groups["share"] = groups["self_s"] / total if total else 0.0
    return groups.sort_values("self_s", ascending=False, ignore_index=True)


def _charge_builtins(
    builtin: pd.DataFrame, functions: pd.DataFrame, edges: pd.DataFrame
) -> pd.DataFrame:
    """Own time of C built-ins, split over their callers' groups by edge own time."""
    if builtin.empty:
        return pd.DataFrame(columns=["group", "package", "tottime_s"])
    group_of = functions.set_index("function")[["group", "package"]]
    into = edges[edges["callee"].isin(builtin["function"])][["caller", "callee", "tottime_s"]]
    into = into.join(group_of, on="caller")
    into.loc[into["group"] == "builtin", ["group", "package"]] = ["stdlib", "builtins"]
    edge_sum = into.groupby("callee")["tottime_s"].transform("sum")
    own = into["callee"].map(builtin.set_index("function")["tottime_s"])
    into["tottime_s"] = (into["tottime_s"] / edge_sum.where(edge_sum > 0)).fillna(0) * own
    charged = into[["group", "package", "tottime_s"]]
    unattributed = builtin["tottime_s"].sum() - charged["tottime_s"].sum()
    if unattributed > 1e-12:  # built-ins with no recorded caller (e.g. the profiler's own)
        extra = pd.DataFrame(
            {"group": ["stdlib"], "package": ["builtins"], "tottime_s": [unattributed]}
        )
        charged = pd.concat([charged, extra], ignore_index=True)
    return charged
