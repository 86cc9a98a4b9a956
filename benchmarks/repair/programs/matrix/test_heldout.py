import pytest
from matrix import identity, multiply, power, shape, trace, transpose


def test_shapes():
    assert shape([]) == (0, 0)
    assert shape([[1, 2, 3]]) == (1, 3)
    assert transpose([[1], [2]]) == [[1, 2]]


def test_rectangular_multiply():
    assert multiply([[1, 2, 3]], [[1], [2], [3]]) == [[14]]
    assert multiply([[1], [2]], [[3, 4]]) == [[3, 4], [6, 8]]


def test_trace_errors_and_identity():
    with pytest.raises(ValueError):
        trace([[1, 2]])
    assert trace(identity(4)) == 4


def test_power_more():
    assert power([[1, 1], [1, 0]], 1) == [[1, 1], [1, 0]]
    assert power([[1, 1], [1, 0]], 10)[0][1] == 55
    assert power([[0, 1], [1, 0]], 3) == [[0, 1], [1, 0]]
