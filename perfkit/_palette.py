"""perfkit's font and colours, without plotly (static HTML views use them too)."""

FONT = "Inter, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"
REGRESSED, IMPROVED, NEUTRAL = "#c0392b", "#1e8449", "#aab7b8"
DIVERGING = [[0.0, IMPROVED], [0.5, "#f4f6f6"], [1.0, REGRESSED]]
SEQUENTIAL = "YlOrRd"
