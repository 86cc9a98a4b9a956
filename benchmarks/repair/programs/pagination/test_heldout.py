import pytest
from pagination import page, page_count, page_links, parse_params, summary


def test_count_edges():
    assert page_count(0, 10) == 0
    assert page_count(1, 10) == 1
    with pytest.raises(ValueError):
        page_count(5, 0)


def test_page_past_end_and_invalid():
    assert page([1, 2, 3], 5, 2) == []
    with pytest.raises(ValueError):
        page([1], 0, 10)


def test_links_at_end():
    assert page_links(10, 10) == [8, 9, 10]
    assert page_links(1, 1) == [1]


def test_summary_edges():
    assert summary(0, 1, 20) == "No results"
    assert summary(45, 3, 20) == "Showing 41-45 of 45"
    assert summary(5, 1, 20) == "Showing 1-5 of 5"


def test_params_clamped():
    assert parse_params({"page": "-2", "per_page": "1000"}) == (1, 100)
    assert parse_params({"per_page": "0"}) == (1, 1)
