from search import binary_search, closest, count_in_range, lower_bound, upper_bound

DATA = [1, 3, 3, 5, 8, 13, 21]


def test_binary_search_edges():
    assert binary_search(DATA, 1) == 0
    assert binary_search([], 5) == -1
    assert binary_search([7], 7) == 0
    assert binary_search(DATA, 22) == -1
    assert binary_search(DATA, 0) == -1


def test_bounds_edges():
    assert lower_bound([], 1) == 0
    assert upper_bound(DATA, 0) == 0
    assert upper_bound(DATA, 21) == 7
    assert lower_bound(DATA, 4) == 3


def test_count_edges():
    assert count_in_range(DATA, 9, 2) == 0
    assert count_in_range(DATA, 0, 100) == 7
    assert count_in_range(DATA, 4, 4) == 0
    assert count_in_range(DATA, 21, 21) == 1


def test_closest_ties_go_low():
    assert closest([2, 4], 3) == 2
    assert closest([5], 1) == 5
    assert closest(DATA, 12) == 13
