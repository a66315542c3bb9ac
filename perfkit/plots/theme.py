"""One look for every perfkit figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perfkit._palette import DIVERGING, FONT, IMPROVED, NEUTRAL, REGRESSED, SEQUENTIAL

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["DIVERGING", "FONT", "IMPROVED", "NEUTRAL", "REGRESSED", "SEQUENTIAL", "styled"]


def styled(fig: go.Figure, title: str, subtitle: str = "") -> go.Figure:
    """Apply perfkit's layout: white background, readable font, title with an optional note."""
    text = f"{title}<br><sup>{subtitle}</sup>" if subtitle else title
    fig.update_layout(
        template="plotly_white",
        font={"family": FONT, "size": 13},
        title={"text": text, "x": 0.01, "xanchor": "left"},
        margin={"l": 10, "r": 10, "t": 70 if subtitle else 50, "b": 10},
    )
    return fig
