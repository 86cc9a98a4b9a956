"""Small tables of rows and named columns."""

from tablekit.table import Table

__all__ = ["Table"]
__version__ = "1.3.0"
