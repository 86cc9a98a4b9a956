import pytest
from dates import add_days, day_of_year, is_leap, weekday


def test_more_leap_years():
    assert not is_leap(2023)
    assert not is_leap(2100)
    assert is_leap(1600)


def test_day_of_year_edges():
    assert day_of_year(2024, 1, 1) == 1
    assert day_of_year(2024, 12, 31) == 366
    with pytest.raises(ValueError):
        day_of_year(2023, 2, 29)
    with pytest.raises(ValueError):
        day_of_year(2023, 13, 1)


def test_add_days_long():
    assert add_days(2024, 1, 1, 0) == (2024, 1, 1)
    assert add_days(2024, 1, 31, 1) == (2024, 2, 1)
    assert add_days(2023, 1, 1, 365) == (2024, 1, 1)


def test_weekday_more():
    assert weekday(2000, 2, 29) == 1
    assert weekday(2024, 12, 25) == 2
    assert weekday(1970, 1, 1) == 3
