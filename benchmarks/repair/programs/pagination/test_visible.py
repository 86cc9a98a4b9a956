from pagination import page, page_count, page_links, parse_params, summary


def test_page_count():
    assert page_count(45, 10) == 5
    assert page_count(40, 10) == 4


def test_page():
    items = list(range(1, 26))
    assert page(items, 1, 10) == list(range(1, 11))
    assert page(items, 3, 10) == [21, 22, 23, 24, 25]


def test_page_links():
    assert page_links(5, 10) == [3, 4, 5, 6, 7]
    assert page_links(1, 10) == [1, 2, 3]


def test_summary():
    assert summary(45, 2, 20) == "Showing 21-40 of 45"


def test_params():
    assert parse_params({"page": "3", "per_page": "50"}) == (3, 50)
    assert parse_params({}) == (1, 20)
