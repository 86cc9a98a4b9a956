from search import binary_search, closest, count_in_range, lower_bound, upper_bound

DATA = [1, 3, 3, 5, 8, 13, 21]


def test_binary_search_found():
    assert binary_search(DATA, 8) == 4
    assert binary_search(DATA, 21) == 6


def test_binary_search_missing():
    assert binary_search(DATA, 4) == -1


def test_bounds():
    assert lower_bound(DATA, 3) == 1
    assert upper_bound(DATA, 3) == 3
    assert lower_bound(DATA, 100) == 7


def test_count_in_range():
    assert count_in_range(DATA, 3, 8) == 4


def test_closest():
    assert closest(DATA, 10) == 8
    assert closest(DATA, 0) == 1
    assert closest(DATA, 99) == 21
