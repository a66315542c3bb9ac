"""Loaders: one module per kind of source; path(s) in, tidy DataFrame(s) out.

Names load on first use, so a module that needs only `perfkit.io.paths` (a collector)
does not import pandas and pyarrow through the access-log reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perfkit._lazy import lazy_names

_EXPORTS = {
    "read_access_log": ".access_log",
    "parse_account": ".account",
    "rejected_frame": ".account",
    "list_formats": ".logformat",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the names above, as type checkers and editors see them
    from perfkit.io.access_log import read_access_log as read_access_log
    from perfkit.io.account import parse_account as parse_account
    from perfkit.io.account import rejected_frame as rejected_frame
    from perfkit.io.logformat import list_formats as list_formats

__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
