"""Calendar arithmetic without the datetime module (proleptic Gregorian)."""

DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2 and is_leap(year):
        return 29
    return DAYS_IN_MONTH[month - 1]


def day_of_year(year: int, month: int, day: int) -> int:
    if not 1 <= month <= 12 or not 1 <= day <= days_in_month(year, month):
        raise ValueError("no such date")
    total = day
    for m in range(1, month):
        total += days_in_month(year, m)
    return total


def add_days(year: int, month: int, day: int, n: int) -> tuple[int, int, int]:
    """The date n days later (n >= 0)."""
    while n > 0:
        left = days_in_month(year, month) - day
        if n <= left:
            return year, month, day + n
        n -= left + 1
        day = 1
        month += 1
        if month > 12:
            month = 1
            year += 1
    return year, month, day


def weekday(year: int, month: int, day: int) -> int:
    """0 = Monday ... 6 = Sunday (Sakamoto's method)."""
    offsets = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
    if month < 3:
        year -= 1
    sunday_based = (year + year // 4 - year // 100 + year // 400 + offsets[month - 1] + day) % 7
    return (sunday_based + 6) % 7
