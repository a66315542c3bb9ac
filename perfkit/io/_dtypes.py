"""A loaded frame's columns in the dtype backend a user asks for, as pandas' loaders do it.

``dtype_backend`` means what it means in `pandas.read_csv`:

- ``None`` (the default): pandas' own defaults. Text is pandas' ``str`` dtype
  (``StringDtype(na_value=nan)``, the default string dtype since pandas 3), numbers are
  ``int64`` / ``float64``, flags ``bool``.
- ``"numpy_nullable"``: text ``StringDtype(na_value=<NA>)``, numbers ``Int64`` / ``Float64``,
  flags ``boolean``; a missing value is ``pd.NA``.
- ``"pyarrow"``: ``ArrowDtype`` columns: ``string[pyarrow]``, ``int64[pyarrow]``,
  ``double[pyarrow]``, ``bool[pyarrow]``.

In every backend, times stay ``datetime64[..., UTC]`` and categories stay categorical, as
`pandas.read_csv` leaves parsed dates and ``dtype="category"`` columns. One deliberate
difference from pandas in the default: an integer or flag column that can hold a missing value
(PostgreSQL's counters and ids, a memory sample's pid) stays nullable (``Int64``, ``boolean``)
where pandas would make it ``float64`` or ``object``: a float cannot hold a 64-bit id or
counter exactly. Widths are kept: an ``int16`` column becomes ``Int16`` or ``int16[pyarrow]``
(pandas' readers would widen it to 64 bits; perfkit chose the narrow type to save memory).
Columnar: one ``astype`` per column, no per-row Python.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import pyarrow as pa

from perfkit.errors import InputError

DtypeBackend = Literal["numpy_nullable", "pyarrow"]
BACKENDS = (None, "numpy_nullable", "pyarrow")

# text per backend (None: pandas' defaults)
_TEXT: dict[str | None, Any] = {
    None: pd.StringDtype("pyarrow", na_value=float("nan")),
    "numpy_nullable": pd.StringDtype("pyarrow", na_value=pd.NA),
    "pyarrow": pd.ArrowDtype(pa.string()),
}


def check_backend(dtype_backend: object, loader: str) -> None:
    """`InputError` naming `loader` unless `dtype_backend` is None, "numpy_nullable" or
    "pyarrow"."""
    if dtype_backend not in BACKENDS:
        raise InputError(f"{loader}: dtype_backend must be 'numpy_nullable' or 'pyarrow' (or None "
                         f"for pandas' defaults), not {dtype_backend!r}")  # fmt: skip


def column_kind(values: pd.Series) -> str | None:
    """``"string"``, ``"integer"``, ``"floating"``, ``"boolean"``, or None for a column no
    backend changes (times, categories, mixed objects)."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return None
    if isinstance(dtype, pd.ArrowDtype):
        arrow = dtype.pyarrow_dtype
        if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
            return "string"
        if pa.types.is_integer(arrow):
            return "integer"
        if pa.types.is_floating(arrow):
            return "floating"
        return "boolean" if pa.types.is_boolean(arrow) else None
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "floating"
    if pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(values) == "string":
        return "string"  # text held as Python objects; an all-missing column stays as it is
    return None


def _numpy_dtype(values: pd.Series) -> np.dtype:
    """The numpy dtype behind a number or flag column (int16 for Int16 or int16[pyarrow])."""
    dtype = values.dtype
    return dtype if isinstance(dtype, np.dtype) else np.dtype(cast(Any, dtype).numpy_dtype)


def _target(values: pd.Series, kind: str, dtype_backend: str | None) -> Any:
    """The dtype `values` (of `kind`) takes in `dtype_backend`; widths are kept (int16 stays
    16 bits), as the loaders chose them."""
    if kind == "string":
        return _TEXT[dtype_backend]
    numpy = _numpy_dtype(values)
    if dtype_backend == "pyarrow":
        return pd.ArrowDtype(pa.from_numpy_dtype(numpy))
    nullable = pd.array(np.empty(0, dtype=numpy)).dtype  # Int16, Float64, boolean
    if dtype_backend == "numpy_nullable":
        return nullable
    if isinstance(values.dtype, pd.ArrowDtype):  # pandas' default, but a gap keeps exactness
        return nullable if kind != "floating" and values.hasnans else numpy
    if kind != "floating" and not isinstance(values.dtype, np.dtype):
        return values.dtype  # nullable ints and flags stay nullable (see the module docstring)
    return numpy


def to_backend(frame: pd.DataFrame, dtype_backend: DtypeBackend | None = None,
               loader: str = "loader") -> pd.DataFrame:  # fmt: skip
    """`frame` with its text, integer, float and flag columns in `dtype_backend`'s dtypes
    (see the module docstring); times, categories and mixed columns as they are; the
    index and ``attrs`` kept. `InputError` naming `loader` for an unknown backend."""
    check_backend(dtype_backend, loader)
    changed: dict[int, Any] = {}
    for position, (_, values) in enumerate(frame.items()):
        kind = column_kind(values)
        if kind is None:
            continue
        target = _target(values, kind, dtype_backend)
        if values.dtype != target:
            changed[position] = values.astype(target)
    if not changed:
        return frame
    out = frame.copy(deep=False)
    for position, values in changed.items():
        out.isetitem(position, values)  # by position: duplicate column names stay apart
    out.attrs = frame.attrs
    return out
