"""Did this change make us slower? Baseline against candidate, per endpoint, statement, function.

- `compare` (requests per route), `mix_adjusted_change` (overall, at the
  baseline's traffic mix): `perfkit.analysis.regression.requests`;
- `judge`, `estimate_shift`, `Shift`: the verdict rule every comparison
  shares, with the run-wide shift (`perfkit.analysis.regression.verdict`);
- `compare_error_rates`: 5xx (and 4xx) rates per route
  (`perfkit.analysis.regression.errors`);
- `compare_line_profiles`: per line of line_profiler dumps
  (`perfkit.analysis.regression.lines`); `plan_changes`: PostgreSQL plans
  (`perfkit.analysis.regression.plans`).

Names load on first use, so the statistical core can import the verdict
rule without a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perfkit._lazy import lazy_names

_EXPORTS = {
    "compare": ".requests",
    "mix_adjusted_change": ".requests",
    "MixAdjusted": ".requests",
    "judge": ".verdict",
    "estimate_shift": ".verdict",
    "Shift": ".verdict",
    "VERDICTS": ".verdict",
    "compare_error_rates": ".errors",
    "compare_line_profiles": ".lines",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the names above, as type checkers and editors see them (kept alike by a test)
    from perfkit.analysis.regression.errors import compare_error_rates as compare_error_rates
    from perfkit.analysis.regression.lines import compare_line_profiles as compare_line_profiles
    from perfkit.analysis.regression.requests import MixAdjusted as MixAdjusted
    from perfkit.analysis.regression.requests import compare as compare
    from perfkit.analysis.regression.requests import mix_adjusted_change as mix_adjusted_change
    from perfkit.analysis.regression.verdict import VERDICTS as VERDICTS
    from perfkit.analysis.regression.verdict import Shift as Shift
    from perfkit.analysis.regression.verdict import estimate_shift as estimate_shift
    from perfkit.analysis.regression.verdict import judge as judge


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
