import pytest
from matrix import identity, multiply, power, trace, transpose


def test_transpose():
    assert transpose([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]


def test_multiply():
    assert multiply([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]]
    with pytest.raises(ValueError):
        multiply([[1, 2]], [[1, 2]])


def test_trace():
    assert trace([[1, 2], [3, 4]]) == 5


def test_power():
    assert power([[1, 1], [1, 0]], 5) == [[8, 5], [5, 3]]
    assert power([[2, 0], [0, 2]], 0) == identity(2)
