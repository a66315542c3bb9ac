"""perfkit's exceptions and warnings.

`InputError` is for bad files and bad parameters: the CLI prints its message
without a traceback and exits with status 2. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations


class PerfkitError(Exception):
    """Base class of every error perfkit raises on purpose."""


class InputError(PerfkitError, ValueError):
    """A file or parameter perfkit cannot use; the message says which and why."""


class PerfkitWarning(UserWarning):
    """Something in the input was skipped or assumed; the message counts it."""
