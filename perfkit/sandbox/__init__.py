"""Throw-away servers for trying perfkit and for its tests (PostgreSQL)."""
