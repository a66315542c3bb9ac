"""perfkit.collect (see DESIGN.md)."""
