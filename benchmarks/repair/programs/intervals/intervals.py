"""Closed integer intervals: merging, overlap and coverage, as a booking calendar uses them."""


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Two closed intervals overlap when each starts before the other ends."""
    return a[0] <= b[1] and b[0] <= a[1]


def merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping or touching intervals; the result is sorted."""
    if not intervals:
        return []
    ordered = sorted(intervals)
    merged = [ordered[0]]
    for start, end in ordered[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end + 1:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def length(interval: tuple[int, int]) -> int:
    """Number of integers in a closed interval."""
    return interval[1] - interval[0] + 1


def covered(intervals: list[tuple[int, int]]) -> int:
    """How many distinct integers the intervals cover together."""
    total = 0
    for interval in merge(intervals):
        total += length(interval)
    return total


def gaps(intervals: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """The free intervals inside [lo, hi] that no interval covers."""
    free = []
    cursor = lo
    for start, end in merge(intervals):
        if end < lo or start > hi:
            continue
        if start > cursor:
            free.append((cursor, start - 1))
        cursor = max(cursor, end + 1)
    if cursor <= hi:
        free.append((cursor, hi))
    return free
