"""Did this change make us slower? Baseline against candidate, per endpoint, statement, function.

- `compare` (requests per route), `mix_adjusted_change` (overall, at the
  baseline's traffic mix): `perfkit.analysis.regression.requests`;
- `judge`, `estimate_shift`, `Shift`: the verdict rule every comparison
  shares, with the run-wide shift (`perfkit.analysis.regression.verdict`);
- `compare_error_rates`: 5xx (and 4xx) rates per route
  (`perfkit.analysis.regression.errors`).

Names load on first use, so the statistical core can import the verdict
rule without a cycle.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "compare": "requests",
    "mix_adjusted_change": "requests",
    "MixAdjusted": "requests",
    "judge": "verdict",
    "estimate_shift": "verdict",
    "Shift": "verdict",
    "VERDICTS": "verdict",
    "compare_error_rates": "errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
