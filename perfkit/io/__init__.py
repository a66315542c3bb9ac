"""Loaders: one module per kind of source; path(s) in, tidy DataFrame(s) out."""

from perfkit.io.access_log import read_access_log
from perfkit.io.account import parse_account, rejected_frame
from perfkit.io.logformat import list_formats

__all__ = ["list_formats", "parse_account", "read_access_log", "rejected_frame"]
