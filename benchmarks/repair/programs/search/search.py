"""Searching sorted sequences: exact match, insertion points and ranges."""


def binary_search(items: list[int], target: int) -> int:
    """Index of target in sorted items, or -1."""
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1


def lower_bound(items: list[int], target: int) -> int:
    """First index whose item is >= target (len(items) if none)."""
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def upper_bound(items: list[int], target: int) -> int:
    """First index whose item is > target."""
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] <= target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def count_in_range(items: list[int], low: int, high: int) -> int:
    """How many items lie in [low, high]."""
    if low > high:
        return 0
    return upper_bound(items, high) - lower_bound(items, low)


def closest(items: list[int], target: int) -> int:
    """The item nearest to target; ties go to the smaller one. items must not be empty."""
    i = lower_bound(items, target)
    if i == 0:
        return items[0]
    if i == len(items):
        return items[-1]
    before, after = items[i - 1], items[i]
    return before if target - before <= after - target else after
