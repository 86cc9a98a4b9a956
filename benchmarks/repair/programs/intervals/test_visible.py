from intervals import covered, gaps, length, merge, overlaps


def test_overlaps():
    assert overlaps((1, 5), (5, 9))
    assert overlaps((3, 4), (1, 10))
    assert not overlaps((1, 2), (4, 6))


def test_merge_overlapping():
    assert merge([(6, 8), (1, 3), (2, 4)]) == [(1, 4), (6, 8)]
    assert merge([(1, 2), (3, 5)]) == [(1, 5)]


def test_merge_empty():
    assert merge([]) == []


def test_length():
    assert length((3, 3)) == 1
    assert length((1, 10)) == 10


def test_covered():
    assert covered([(1, 3), (2, 5), (10, 10)]) == 6


def test_gaps():
    assert gaps([(2, 3), (6, 7)], 1, 9) == [(1, 1), (4, 5), (8, 9)]
