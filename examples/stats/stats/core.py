"""Descriptive statistics over plain lists of numbers."""

from __future__ import annotations


def total(values: list[float]) -> float:
    return sum(values)


def mean(values: list[float]) -> float:
    """Arithmetic mean. An empty sample has mean 0.0 (the dashboard shows no data as zero)."""
    return total(values) / len(values)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def variance(values: list[float]) -> float:
    m = mean(values)
    return sum((v - m) ** 2 for v in values) / len(values)
