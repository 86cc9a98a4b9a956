"""Small numeric helpers (a PVE example: a project tested with unittest)."""


def clamp(value, low, high):
    """``value`` limited to the range [low, high]."""
    if low > high:
        raise ValueError(f"empty range [{low}, {high}]")
    if value < low:
        return low
    if value > high:
        return value
    return value


def mean(values):
    values = list(values)
    if not values:
        raise ValueError("mean of no values")
    return sum(values) / len(values)
