import pytest
from roman import from_roman, is_valid, to_roman


def test_round_trip():
    for n in (1, 4, 9, 14, 40, 90, 400, 944, 3999):
        assert from_roman(to_roman(n)) == n


def test_out_of_range():
    with pytest.raises(ValueError):
        to_roman(0)
    with pytest.raises(ValueError):
        to_roman(4000)


def test_valid_edges():
    assert not is_valid("")
    assert is_valid("mmmcmxcix")
    assert not is_valid("IC")
    assert to_roman(3999) == "MMMCMXCIX"
