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


def test_binary_search_more():
    items = list(range(0, 100, 2))
    assert all(binary_search(items, x) == x // 2 for x in items)
    assert all(binary_search(items, x) == -1 for x in range(1, 100, 2))
    assert binary_search([5], 5) == 0 and binary_search([5], 4) == -1


def test_gcd_more():
    assert gcd(48, 36) == 12 and gcd(7, 0) == 7 and gcd(-12, 8) == 4 and gcd(1071, 462) == 21


def test_primes_more():
    assert primes_up_to(2) == [2] and primes_up_to(49)[-1] == 47 and len(primes_up_to(100)) == 25
    assert 25 not in primes_up_to(30) and 49 not in primes_up_to(50)


def test_bfs_more():
    g = {1: [2, 3], 2: [4], 3: [4], 4: [1]}
    assert bfs_order(g, 1) == [1, 2, 3, 4] and bfs_order(g, 4) == [4, 1, 2, 3] and bfs_order({}, "x") == ["x"]


def test_topo_more():
    assert topo_sort({"a": ["b"], "b": ["c"], "c": []}) == ["a", "b", "c"]
    assert topo_sort({"z": [], "y": [], "x": ["z"]}) == ["x", "y", "z"]
    try:
        topo_sort({"a": ["b"], "b": ["a"]})
    except ValueError:
        pass
    else:
        raise AssertionError("a cycle must raise")


def test_max_subarray_more():
    assert max_subarray([5]) == 5 and max_subarray([1, 2, 3]) == 6 and max_subarray([2, -1, 2]) == 3
    assert max_subarray([-5, 4, -1, 7, -20, 3]) == 10


def test_lis_more():
    assert lis_length([1, 2, 3, 4]) == 4 and lis_length([4, 3, 2, 1]) == 1 and lis_length([2, 2, 2]) == 1
    assert lis_length([0, 8, 4, 12, 2, 10, 6, 14, 1, 9]) == 4


def test_merge_more():
    assert merge_sorted([], [1]) == [1] and merge_sorted([1, 1], [1]) == [1, 1, 1]
    assert merge_sorted([5, 6], [1, 2]) == [1, 2, 5, 6]


def test_flatten_more():
    assert flatten([]) == [] and flatten([[[[]]]]) == [] and flatten(["a", ["b"]]) == ["a", "b"]


def test_binary_more():
    assert to_binary(255) == "11111111" and to_binary(256) == "100000000" and to_binary(6) == "110"


def test_balanced_more():
    assert balanced("") and balanced("a(b)c") and not balanced(")(") and not balanced("{[}]") and not balanced("]")


def test_edit_distance_more():
    assert edit_distance("flaw", "lawn") == 2 and edit_distance("same", "same") == 0 and edit_distance("ab", "") == 2


def test_knapsack_more():
    assert knapsack([5], [10], 4) == 0 and knapsack([2, 2, 2], [3, 3, 3], 4) == 6 and knapsack([], [], 10) == 0
    assert knapsack([1, 2, 3], [6, 10, 12], 5) == 22


def test_kth_more():
    assert kth_smallest([3, 3, 1], 2) == 3 and kth_smallest([5], 1) == 5
    assert [kth_smallest([9, 8, 7, 6, 5, 4], k) for k in (1, 6)] == [4, 9]


def test_shortest_more():
    g = {"s": ["a", "b"], "a": ["g"], "b": ["c"], "c": ["g"]}
    assert shortest_path_length(g, "s", "g") == 2 and shortest_path_length(g, "s", "s") == 0
    assert shortest_path_length(g, "a", "c") == -1


def test_bit_count_more():
    assert bit_count(1023) == 10 and bit_count(1024) == 1 and bit_count(6) == 2


def test_pascal_more():
    assert pascal_row(1) == [1, 1] and pascal_row(6) == [1, 6, 15, 20, 15, 6, 1]
