"""perfkit.plots (see DESIGN.md)."""
