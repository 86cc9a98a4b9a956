from pagination import last_item, page


def test_first_page():
    assert page(list(range(25)), 1) == list(range(10))


def test_last_page_is_short():
    assert page(list(range(25)), 3) == [20, 21, 22, 23, 24]


def test_last_item():
    assert last_item(["a", "b", "c"]) == "c"
