"""Small descriptive statistics used by the reporting service."""

from stats.core import mean, median, variance

__all__ = ["mean", "median", "variance"]
