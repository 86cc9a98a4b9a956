from algos import (
    balanced,
    bfs_order,
    binary_search,
    bit_count,
    edit_distance,
    flatten,
    gcd,
    kth_smallest,
    knapsack,
    lis_length,
    max_subarray,
    merge_sorted,
    pascal_row,
    primes_up_to,
    shortest_path_length,
    to_binary,
    topo_sort,
)

GRAPH = {"a": ["b", "c"], "b": ["d"], "c": ["d", "e"], "d": ["f"], "e": ["f"], "f": []}


def test_binary_search():
    items = [1, 3, 5, 7, 9, 11]
    assert [binary_search(items, x) for x in items] == [0, 1, 2, 3, 4, 5]
    assert binary_search(items, 4) == -1 and binary_search(items, 12) == -1 and binary_search([], 1) == -1


def test_gcd():
    assert gcd(12, 18) == 6 and gcd(17, 5) == 1 and gcd(0, 9) == 9


def test_primes():
    assert primes_up_to(30) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert primes_up_to(1) == []


def test_bfs():
    assert bfs_order(GRAPH, "a") == ["a", "b", "c", "d", "e", "f"]


def test_topo_sort():
    assert topo_sort({"shirt": ["tie"], "tie": ["jacket"], "pants": ["shoes", "jacket"], "shoes": [], "jacket": []}) == \
        ["pants", "shirt", "shoes", "tie", "jacket"]


def test_max_subarray():
    assert max_subarray([-2, 1, -3, 4, -1, 2, 1, -5, 4]) == 6
    assert max_subarray([-3, -1, -2]) == -1


def test_lis():
    assert lis_length([10, 9, 2, 5, 3, 7, 101, 18]) == 4 and lis_length([]) == 0


def test_merge_sorted():
    assert merge_sorted([1, 4, 9], [2, 3, 10, 11]) == [1, 2, 3, 4, 9, 10, 11]
    assert merge_sorted([5, 6], [1]) == [1, 5, 6]


def test_flatten():
    assert flatten([1, [2, [3, 4]], [], 5]) == [1, 2, 3, 4, 5]


def test_to_binary():
    assert [to_binary(n) for n in (0, 1, 2, 5, 10)] == ["0", "1", "10", "101", "1010"]


def test_balanced():
    assert balanced("([]{})") and not balanced("(]") and not balanced("((")


def test_edit_distance():
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "abc") == 3


def test_knapsack():
    assert knapsack([1, 3, 4, 5], [1, 4, 5, 7], 7) == 9


def test_kth_smallest():
    assert [kth_smallest([7, 2, 9, 4, 1], k) for k in range(1, 6)] == [1, 2, 4, 7, 9]


def test_shortest_path():
    assert shortest_path_length(GRAPH, "a", "f") == 3 and shortest_path_length(GRAPH, "f", "a") == -1


def test_bit_count():
    assert [bit_count(n) for n in (0, 1, 7, 8, 255)] == [0, 1, 3, 1, 8]


def test_pascal():
    assert pascal_row(4) == [1, 4, 6, 4, 1] and pascal_row(0) == [1]
