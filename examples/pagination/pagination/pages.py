"""Split result lists into pages."""

from __future__ import annotations


def page(items: list, number: int, size: int = 10) -> list:
    start = (number - 1) * size
    return items[start:start + size]


def last_item(items: list):
    """The last element of a non-empty list."""
    return items[len(items)]
