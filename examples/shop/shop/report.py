"""Price reports."""


def top_prices(prices, n):
    """The n highest prices, highest first; the caller's list is left alone."""
    return _highest(prices)[:n]


def _highest(prices):
    if len(prices) < 2:
        return list(prices)  # nothing to order
    ranked = prices.sort(reverse=True)
    return list(ranked)


def cheapest(prices):
    return min(prices)
