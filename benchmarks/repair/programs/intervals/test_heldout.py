from intervals import covered, gaps, merge, overlaps


def test_merge_touching_and_nested():
    assert merge([(1, 2), (3, 4)]) == [(1, 4)]
    assert merge([(1, 10), (2, 3), (12, 15)]) == [(1, 10), (12, 15)]
    assert merge([(4, 6)]) == [(4, 6)]


def test_overlap_is_symmetric():
    assert overlaps((5, 9), (1, 5))
    assert not overlaps((4, 6), (1, 2))
    assert not overlaps((1, 1), (2, 2))


def test_covered_empty_and_single():
    assert covered([]) == 0
    assert covered([(7, 7)]) == 1
    assert covered([(1, 4), (3, 8)]) == 8


def test_gaps_edges():
    assert gaps([], 1, 3) == [(1, 3)]
    assert gaps([(1, 3)], 1, 3) == []
    assert gaps([(0, 1), (5, 20)], 1, 9) == [(2, 4)]
