import pytest
from metrics import mean, median, mode, moving_average, percentile, stdev


def test_single_values():
    assert mean([7]) == 7
    assert median([7]) == 7
    assert mode([7]) == 7
    assert stdev([7]) == 0.0


def test_median_unsorted_even():
    assert median([10, 2, 8, 4]) == 6


def test_stdev_pair():
    assert stdev([1, 3]) == pytest.approx(1.41421, abs=1e-4)


def test_percentile_edges():
    assert percentile([3, 1, 2], 1) == 1
    assert percentile([10, 20, 30, 40], 50) == 20
    assert percentile([10, 20, 30, 40], 75) == 30


def test_moving_average_edges():
    assert moving_average([1, 2, 3], 3) == [2.0]
    assert moving_average([1, 2], 3) == []
    assert moving_average([2, 4, 6], 1) == [2.0, 4.0, 6.0]
