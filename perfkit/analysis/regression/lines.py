"""Which line got slower: baseline against candidate line profiles (line_profiler).

Inputs are frames of `perfkit.io.line_profile.read_line_profile` (or the paths to read). Each
``.lprof`` dump is one replicate: ``by_file=True`` frames (a ``dump`` column) keep them apart;
a merged frame is one replicate, and then nothing can be tested (``insufficient data``), only
ranked. Per-request or per-batch dumps (one ``dump_stats`` every N requests) give the
replicates a test needs; per-worker dumps give as many as there are workers.

**Per call.** line_profiler records hits and time per line, not calls. A function's calls in a
dump are the hits of its **first body line** (the lowest line number it recorded: the ``def``
line itself gets no hits), which runs once per call. When that line opens a loop (``for``,
``while``: known from the source text), its hits count iterations, not calls: the function is
listed in ``attrs["loop_first_line"]`` and its "per call" figures are per pass of that loop.
Per line and side: ``time_per_call_s`` = the line's time summed over dumps / the function's calls
summed over dumps (a ratio estimator, so a dump with more calls weighs more), likewise
``hits_per_call``; its variance is the ratio estimator's, ``sum_d (t_d - R c_d)^2 / (n (n-1)
cbar^2)`` over the ``n`` dumps that called the function.

**Matching lines.** Functions are matched by file and name (the k-th function of that name in a
file with the k-th; a file path absent on the other side matches the one sharing its longest
trailing path). Lines are matched by their source text (stripped; the k-th line of the same text
in the function with the k-th), so a candidate that inserted lines above still matches; lines
without text on either side, or whose text changed, fall back to their offset from the
function's first line. The rest are new (or gone): 0 s on the side that lacks them. ``file``,
``source`` and the function name are the candidate's (the baseline's for a line gone).

**Verdict.** Welch's t on time per call (Welch–Satterthwaite degrees of freedom), then the
shared rule of `perfkit.analysis.regression.verdict` (`judge`): Holm across lines, the practical
floor (`min_ratio` and `min_abs_s` per call), the run-wide shift from the lines' own ratios.
Lines under the floor on both sides are not tested. Rows are ranked by the absolute change of
time per call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from perfkit.analysis.regression.verdict import EXTRA_COLUMNS, judge
from perfkit.errors import InputError

SHORT_COLUMNS = [
    "file", "function", "line_base", "line_cand", "source", "time_per_call_s_base",
    "time_per_call_s_cand", "change_s", "hits_per_call_base", "hits_per_call_cand", "ratio",
    "ci_low", "ci_high", "p_adjusted", "verdict", "matched_by",
]  # fmt: skip
DETAIL_COLUMNS = [
    *SHORT_COLUMNS, "calls_base", "calls_cand", "n_base", "n_cand", "p_value", "test",
    "mean_base", "mean_cand", *EXTRA_COLUMNS,
]  # fmt: skip
CHANGED = ("regressed", "improved", "moved with shift")
_LOOPS = ("for ", "for(", "while ", "while(", "async for ")


def compare_line_profiles(
    base: pd.DataFrame | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    cand: pd.DataFrame | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    alpha: float = 0.05,
    correction: str = "holm",
    min_ratio: float = 0.05,
    min_abs_s: float = 0.001,
    min_n: int = 3,
    normalize: bool = True,
    min_keys: int = 5,
    min_spread: float = 0.0,
    top: int = 25,
    detail: bool = False,
) -> pd.DataFrame:
    """Per line, time and hits per call of its function before and after, the change (s per
    call) and the verdict; ranked by absolute change (see the module docstring).

    `base`/`cand`: `read_line_profile` frames (``by_file=True`` for replicates) or paths to
    read that way. Returns the `top` rows plus every line judged changed, in `SHORT_COLUMNS`;
    with `detail`, every line and `DETAIL_COLUMNS`. `min_n`: dumps each side needs (that
    called the function) for a line to be judged. ``attrs``: ``shift``, ``lines`` (compared),
    ``left_out``, ``dumps_base``/``dumps_cand``, ``loop_first_line``."""
    sides = [_frame(side, name) for side, name in ((base, "baseline"), (cand, "candidate"))]
    canon = _function_keys(sides[0], sides[1])
    prepared = [_prepare(frame, canon[i]) for i, frame in enumerate(sides)]
    pairs = _match(prepared[0][0], prepared[1][0])
    estimates = [_estimate(prepared[i][0], prepared[i][1], pairs, "_b" if i == 0 else "_c")
                 for i in range(2)]  # fmt: skip
    table = pairs.join(estimates[0]).join(estimates[1])
    table = _tests(table, alpha, correction, min_ratio, min_abs_s, min_n, normalize, min_keys,
                   min_spread)  # fmt: skip
    order = np.argsort(-table["change_s"].abs().fillna(0.0).to_numpy(), kind="stable")
    table = table.iloc[order].reset_index(drop=True)[DETAIL_COLUMNS]
    loops = sorted({f"{f} {n}" for side in prepared for (f, n) in side[2]})
    table.attrs.update(
        shift=table.attrs.get("shift"), lines=len(table), left_out=0,
        dumps_base=int(prepared[0][0]["dump"].nunique()),
        dumps_cand=int(prepared[1][0]["dump"].nunique()), loop_first_line=loops,
    )  # fmt: skip
    return table if detail else shorten(table, top)


def shorten(table: pd.DataFrame, top: int = 25) -> pd.DataFrame:
    """`table` (``detail=True``) cut to its first `top` rows and every line judged changed, in
    `SHORT_COLUMNS`; ``attrs["left_out"]`` counts the rows cut."""
    keep = (np.arange(len(table)) < top) | table["verdict"].isin(CHANGED).to_numpy()
    short = table.loc[keep, SHORT_COLUMNS].reset_index(drop=True)
    short.attrs = {**table.attrs, "left_out": int(len(table) - keep.sum())}
    return short


def _frame(side: Any, name: str) -> pd.DataFrame:
    if not isinstance(side, pd.DataFrame):
        from perfkit.io.line_profile import read_line_profile

        side = read_line_profile(side, by_file=True)
    needed = {"file", "function", "first_line", "line", "hits", "time_s"}
    if not needed <= set(side.columns):
        raise InputError(f"compare_line_profiles: the {name} is not a read_line_profile frame "
                         f"(missing {sorted(needed - set(side.columns))})")  # fmt: skip
    frame = pd.DataFrame({
        "dump": side["dump"].astype(str).to_numpy() if "dump" in side else "(all)",
        "file": side["file"].astype(str).to_numpy(),
        "function": side["function"].astype(str).to_numpy(),
        "first_line": side["first_line"].to_numpy(dtype=np.int64),
        "line": side["line"].to_numpy(dtype=np.int64),
        "hits": side["hits"].to_numpy(dtype=np.float64),
        "time_s": side["time_s"].to_numpy(dtype=np.float64),
        "source": (side["source"].astype(object).where(side["source"].notna(), None).to_numpy()
                   if "source" in side else None),
    })  # fmt: skip
    return frame


def _function_keys(base: pd.DataFrame, cand: pd.DataFrame) -> list[dict[tuple[str, str, int], str]]:
    """Per side, (file, function, first_line) -> a key shared by both sides: the file (as the
    baseline names it), the name and its rank among same-named functions of that file."""
    files_b = sorted(set(base["file"]))
    files_c = sorted(set(cand["file"]))
    same = _match_files(files_b, files_c)
    out = []
    for frame, rename in ((base, {f: f for f in files_b}), (cand, same)):
        functions = frame[["file", "function", "first_line"]].drop_duplicates()
        functions = functions.sort_values(["file", "function", "first_line"])
        rank = functions.groupby(["file", "function"]).cumcount().to_numpy()
        keys = {}
        for (file, function, first), k in zip(
            functions.itertuples(index=False), rank, strict=True
        ):  # per function, few
            suffix = f" #{k + 1}" if k else ""
            keys[(file, function, int(first))] = f"{rename.get(file, file)}\0{function}{suffix}"
        out.append(keys)
    return out


def _match_files(base: list[str], cand: list[str]) -> dict[str, str]:
    """Candidate file -> the baseline file it is: the same path, else the one sharing the
    longest trailing part of the path (at least the file name), when that one is unique."""
    out = {f: f for f in cand if f in set(base)}
    left_b = [f for f in base if f not in out.values()]
    for file in (f for f in cand if f not in out):
        parts = PurePath(file).parts
        best, best_len, tie = None, 0, False
        for other in left_b:
            common = 0
            for a, b in zip(reversed(parts), reversed(PurePath(other).parts), strict=False):
                if a != b:
                    break
                common += 1
            if common > best_len:
                best, best_len, tie = other, common, False
            elif common == best_len and common:
                tie = True
        if best is not None and not tie:
            out[file] = best
            left_b.remove(best)
    return out


def _prepare(
    frame: pd.DataFrame, keys: dict[tuple[str, str, int], str]
) -> tuple[pd.DataFrame, pd.DataFrame, set[tuple[str, str]]]:
    """The side's rows with a shared function key and line offset; calls per (dump, function)
    (hits of the function's first body line); the functions whose first body line is a loop."""
    named = pd.DataFrame(
        [(*k, v) for k, v in keys.items()], columns=["file", "function", "first_line", "key"]
    )  # one row per function: the rows get their key by a merge, not a Python loop
    frame = frame.merge(named, on=["file", "function", "first_line"], how="left")
    frame["offset"] = frame["line"] - frame["first_line"]
    first = frame.groupby("key")["line"].transform("min")
    head = frame[frame["line"] == first]
    calls = head.groupby(["dump", "key"])["hits"].sum().rename("calls")
    texts = head.dropna(subset=["source"]).drop_duplicates("key")
    loops = {(str(f), str(n)) for f, n, s in zip(texts["file"], texts["function"],
                                                 texts["source"], strict=True)
             if str(s).lstrip().startswith(_LOOPS)}  # fmt: skip
    return frame, calls.reset_index(), loops


def _match(base: pd.DataFrame, cand: pd.DataFrame) -> pd.DataFrame:
    """One row per line compared: ``key``, ``file``, ``function``, ``line_base``,
    ``line_cand``, ``source``, ``matched_by``; indexed 0..n-1."""

    def lines(frame: pd.DataFrame) -> pd.DataFrame:
        one = frame.drop_duplicates(["key", "line"])[["key", "file", "function", "line",
                                                      "offset", "source"]]  # fmt: skip
        one = one.sort_values(["key", "line"]).reset_index(drop=True)
        one["text"] = one["source"].map(lambda s: s.strip() if isinstance(s, str) else None)
        one["occurrence"] = one.groupby(["key", "text"], dropna=False).cumcount()
        return one

    lb, lc = lines(base), lines(cand)
    text_b, text_c = lb[lb["text"].notna()], lc[lc["text"].notna()]
    by_text = text_b.merge(text_c, on=["key", "text", "occurrence"], suffixes=("_b", "_c"))
    rest_b = _without(lb, by_text[["key", "line_b"]].rename(columns={"line_b": "line"}))
    rest_c = _without(lc, by_text[["key", "line_c"]].rename(columns={"line_c": "line"}))
    by_offset = rest_b.merge(rest_c, on=["key", "offset"], how="outer", suffixes=("_b", "_c"),
                             indicator=True)  # fmt: skip
    pairs = pd.concat([
        by_text.assign(matched_by="source text"),
        by_offset.assign(matched_by=by_offset["_merge"].map(
            {"both": "line offset", "left_only": "baseline only", "right_only": "candidate only"})),
    ], ignore_index=True)  # fmt: skip
    out = pd.DataFrame({
        "key": pairs["key"],
        "file": pairs["file_c"].fillna(pairs["file_b"]),  # the candidate's path, if it has it
        "function": pairs["function_c"].fillna(pairs["function_b"]),
        "line_base": pairs["line_b"].astype("Int64"),
        "line_cand": pairs["line_c"].astype("Int64"),
        "source": pairs["source_c"].where(pairs["source_c"].notna(), pairs["source_b"]),
        "matched_by": pairs["matched_by"].astype(str),
    })  # fmt: skip
    return out.reset_index(drop=True)


def _without(lines: pd.DataFrame, used: pd.DataFrame) -> pd.DataFrame:
    """The rows of `lines` whose (key, line) is not in `used`."""
    marked = lines.merge(used.assign(_used=True), on=["key", "line"], how="left")
    return lines[marked["_used"].isna().to_numpy()]


def _estimate(frame: pd.DataFrame, calls: pd.DataFrame, pairs: pd.DataFrame,
              side: str) -> pd.DataFrame:  # fmt: skip
    """Per compared line on one side: calls, hits and time per call (ratio estimators), the
    variance of time per call and the dumps ``n`` that called the function."""
    column = "line_base" if side == "_b" else "line_cand"
    known = pairs[column].notna().to_numpy()
    ids = pd.DataFrame({"row": np.flatnonzero(known), "key": pairs.loc[known, "key"].to_numpy(),
                        "line": pairs.loc[known, column].to_numpy(dtype=np.int64)})  # fmt: skip
    rows = frame.merge(ids, on=["key", "line"])[["row", "dump", "key", "hits", "time_s"]]
    rows = rows.groupby(["row", "dump", "key"], as_index=False)[["hits", "time_s"]].sum()
    # every dump that called the line's function counts, whether or not the line ran there
    keyed = pairs[["key"]].reset_index(names="row").merge(calls, on="key")
    keyed = keyed[keyed["calls"] > 0]
    full = keyed.merge(rows.drop(columns="key"), on=["row", "dump"], how="left").fillna(
        {"hits": 0.0, "time_s": 0.0})  # fmt: skip
    g = full.groupby("row")
    n = g.size()
    c_sum, t_sum, h_sum = g["calls"].sum(), g["time_s"].sum(), g["hits"].sum()
    ratio = t_sum / c_sum
    residual = (full["time_s"] - ratio.reindex(full["row"]).to_numpy() * full["calls"]) ** 2
    ss = residual.groupby(full["row"]).sum()
    cbar = c_sum / n
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(n > 1, ss / (n * (n - 1) * cbar**2), np.nan)
    out = pd.DataFrame({
        f"calls{side}": c_sum, f"hits_per_call{side}": h_sum / c_sum,
        f"time_per_call_s{side}": ratio, f"var{side}": var, f"n{side}": n,
    }).reindex(pairs.index)  # fmt: skip
    # a line the side lacks, in a function the side ran: 0 s and 0 hits per call, known exactly
    lacks = ~known & out[f"n{side}"].notna().to_numpy()
    out.loc[lacks, [f"hits_per_call{side}", f"time_per_call_s{side}", f"var{side}"]] = 0.0
    out[f"n{side}"] = out[f"n{side}"].fillna(0).astype(np.int64)
    out[f"calls{side}"] = out[f"calls{side}"].fillna(0).astype(np.int64)
    return out


def _tests(table: pd.DataFrame, alpha: float, correction: str, min_ratio: float,
           min_abs_s: float, min_n: int, normalize: bool, min_keys: int,
           min_spread: float) -> pd.DataFrame:  # fmt: skip
    b = table["time_per_call_s_b"].fillna(0.0).to_numpy(dtype=float)
    c = table["time_per_call_s_c"].fillna(0.0).to_numpy(dtype=float)
    vb, vc = (table[v].to_numpy(dtype=float) for v in ("var_b", "var_c"))
    nb, nc = table["n_b"].to_numpy(), table["n_c"].to_numpy()
    diff = c - b
    var = vb + vc
    with np.errstate(divide="ignore", invalid="ignore"):
        parts = np.where(nb > 1, vb**2 / (nb - 1), 0) + np.where(nc > 1, vc**2 / (nc - 1), 0)
        dof = var**2 / parts
        t_stat = diff / np.sqrt(var)
        p_value = np.where(var > 0, 2 * stats.t.sf(np.abs(t_stat), dof),
                           np.where(diff == 0, 1.0, 0.0))  # fmt: skip
        half = np.where(var > 0, stats.t.ppf(0.975, dof) * np.sqrt(var), 0.0)
        ratio = c / b
        log_se = np.sqrt(vc / c**2 + vb / b**2)
        ci_low, ci_high = (diff - half) / b + 1, (diff + half) / b + 1
    insufficient = (nb < min_n) | (nc < min_n) | np.isnan(var)
    tested = (np.maximum(b, c) >= min_abs_s) & ~insufficient
    frame = pd.DataFrame({
        "n_base": nb, "n_cand": nc, "ratio": ratio, "ci_low": ci_low, "ci_high": ci_high,
        "p_value": np.where(insufficient, np.nan, p_value), "log_se": log_se,
        "mean_base": b, "mean_cand": c,
    })  # fmt: skip
    judged = judge(frame[tested], ("mean_base", "mean_cand"), alpha=alpha, correction=correction,
                   min_ratio=min_ratio, min_abs=min_abs_s, normalize=normalize,
                   min_keys=min_keys, what="lines", min_spread=min_spread)  # fmt: skip
    judged["test"] = "Welch t on seconds per call of the line's function, dumps as replicates"
    result = judged.reindex(frame.index)
    for column in frame.columns:
        result[column] = frame[column]
    result.loc[~tested, "verdict"] = np.where(insufficient[~tested], "insufficient data",
                                              "unchanged")  # fmt: skip
    result.loc[~tested, ["raw_verdict", "relative_verdict"]] = result.loc[~tested, "verdict"]
    result.loc[~tested, "test"] = np.where(
        insufficient[~tested], f"fewer than {min_n} dumps calling the function on a side",
        "below the practical floor on both sides: not tested")  # fmt: skip
    out = table.rename(columns={
        "time_per_call_s_b": "time_per_call_s_base", "time_per_call_s_c": "time_per_call_s_cand",
        "hits_per_call_b": "hits_per_call_base", "hits_per_call_c": "hits_per_call_cand",
        "calls_b": "calls_base", "calls_c": "calls_cand",
    }).drop(columns=["var_b", "var_c", "n_b", "n_c", "key"])  # fmt: skip
    for column in ("time_per_call_s_base", "time_per_call_s_cand", "hits_per_call_base",
                   "hits_per_call_cand"):  # fmt: skip
        out[column] = out[column].fillna(0.0)
    out["change_s"] = diff
    out = pd.concat([out, result[[c for c in result.columns if c not in out.columns]]], axis=1)
    out.attrs["shift"] = judged.attrs.get("shift")
    return out
