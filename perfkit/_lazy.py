"""Lazy public names (PEP 562): a package lists where each name lives; the module loads on use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

Getattr = Callable[[str], Any]
Dir = Callable[[], list[str]]


def lazy_names(package: str, exports: dict[str, str]) -> tuple[Getattr, Dir]:
    """``__getattr__`` and ``__dir__`` for `package`, whose `exports` map a public name to the
    module that defines it (absolute, or relative to `package` when it starts with ".")."""

    def getattr_(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        target = package + module if module.startswith(".") else module
        return getattr(importlib.import_module(target), name)

    def dir_() -> list[str]:
        return sorted(exports)

    return getattr_, dir_
