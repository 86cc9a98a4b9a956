import pytest
from rpn import evaluate, to_rpn, tokenize


def test_tokenize():
    assert tokenize("12 + 3.5*(2-1)") == ["12", "+", "3.5", "*", "(", "2", "-", "1", ")"]


def test_to_rpn():
    assert to_rpn(["1", "+", "2", "*", "3"]) == ["1", "2", "3", "*", "+"]


def test_evaluate():
    assert evaluate("2 + 3 * 4") == 14
    assert evaluate("(2 + 3) * 4") == 20
    assert evaluate("10 - 4 - 3") == 3
    assert evaluate("8 / 2") == 4


def test_bad_input():
    with pytest.raises(ValueError):
        tokenize("2 $ 3")
