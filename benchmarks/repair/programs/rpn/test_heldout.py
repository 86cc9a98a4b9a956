import pytest
from rpn import evaluate


def test_power_is_right_associative():
    assert evaluate("2 ^ 3 ^ 2") == 512
    assert evaluate("2 * 3 ^ 2") == 18


def test_division_order_and_decimals():
    assert evaluate("100 / 10 / 5") == 2
    assert evaluate("1.5 + 2.25") == 3.75
    assert evaluate("7") == 7


def test_unbalanced():
    with pytest.raises(ValueError):
        evaluate("(1 + 2")
    with pytest.raises(ValueError):
        evaluate("1 + 2)")


def test_malformed():
    with pytest.raises((ValueError, IndexError)):
        evaluate("1 2")
