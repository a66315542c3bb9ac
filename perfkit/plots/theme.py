"""One look for every perfkit figure."""

from __future__ import annotations

import plotly.graph_objects as go

FONT = "Inter, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"
REGRESSED, IMPROVED, NEUTRAL = "#c0392b", "#1e8449", "#aab7b8"
DIVERGING = [[0.0, IMPROVED], [0.5, "#f4f6f6"], [1.0, REGRESSED]]
SEQUENTIAL = "YlOrRd"


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
