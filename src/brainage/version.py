"""The version of brainage, declared once (pyproject.toml reads it; model bundles record it)."""

__version__ = "0.12.2"
