"""Reports: what the notebooks call, papermill runs of them, HTML exports, JSON summaries.

Every notebook is thin: ``import perfkit.report as pr; pr.setup()``, then one
call per section (``pr.regression_report(...)``, ``report.verdict()`` ...).
"""

from __future__ import annotations

from perfkit._lazy import lazy_names

_EXPORTS = {
    "setup": "perfkit.report.display",
    "md": "perfkit.report.display",
    "table": "perfkit.report.display",
    "emit_summary": "perfkit.report.display",
    "show_all": "perfkit.report.display",
    "load_run": "perfkit.report.evidence",
    "regression_report": "perfkit.report.regression",
    "memory_report": "perfkit.report.memory",
    "capacity_report": "perfkit.report.capacity",
    "overview_report": "perfkit.report.overview",
    "run_report": "perfkit.report.run",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
