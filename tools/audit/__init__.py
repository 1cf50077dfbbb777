"""Offline audit of a synthesised cloud assembly: run with ``python -m tools.audit``."""
