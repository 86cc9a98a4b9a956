"""linecount: how many lines each function of a Python file spans."""

from linecount.cli import main, spans

__all__ = ["main", "spans"]
