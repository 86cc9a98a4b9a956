"""Paging through result lists for an API."""


def page_count(total: int, per_page: int) -> int:
    if per_page < 1:
        raise ValueError("per_page must be positive")
    return (total + per_page - 1) // per_page


def page(items: list, number: int, per_page: int) -> list:
    """Items on page `number` (1-based); an empty list past the end."""
    if number < 1:
        raise ValueError("pages start at 1")
    start = (number - 1) * per_page
    return items[start:start + per_page]


def page_links(current: int, last: int, radius: int = 2) -> list[int]:
    """Page numbers to show around the current page, clipped to [1, last]."""
    first = max(1, current - radius)
    final = min(last, current + radius)
    return list(range(first, final + 1))


def summary(total: int, number: int, per_page: int) -> str:
    if total == 0:
        return "No results"
    first = (number - 1) * per_page + 1
    last = min(number * per_page, total)
    return f"Showing {first}-{last} of {total}"


def parse_params(params: dict[str, str]) -> tuple[int, int]:
    """Read ?page=&per_page= with defaults 1 and 20; per_page is capped at 100."""
    number = int(params.get("page", "1"))
    per_page = int(params.get("per_page", "20"))
    return max(number, 1), min(max(per_page, 1), 100)
