from dates import add_days, day_of_year, days_in_month, is_leap, weekday


def test_leap_years():
    assert is_leap(2024)
    assert not is_leap(1900)
    assert is_leap(2000)


def test_days_in_month():
    assert days_in_month(2023, 2) == 28
    assert days_in_month(2024, 2) == 29
    assert days_in_month(2024, 12) == 31


def test_day_of_year():
    assert day_of_year(2024, 3, 1) == 61
    assert day_of_year(2023, 12, 31) == 365


def test_add_days():
    assert add_days(2024, 2, 28, 1) == (2024, 2, 29)
    assert add_days(2023, 12, 30, 3) == (2024, 1, 2)


def test_weekday():
    assert weekday(2024, 1, 1) == 0
    assert weekday(2023, 7, 4) == 1
