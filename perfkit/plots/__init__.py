"""plotly figure builders, one per result kind, one shared theme (no statistics, no I/O);
`line_heat`, a line profile's annotated source as static HTML, needs no plotly."""

from perfkit.plots.lines import line_heat

try:
    from perfkit.plots.flame import flame, flame_diff
except ModuleNotFoundError as exc:  # a core install (no plotly): the static views only
    if exc.name != "plotly":
        raise

__all__ = ["flame", "flame_diff", "line_heat"]
