from roman import from_roman, is_valid, to_roman


def test_to_roman():
    assert to_roman(1994) == "MCMXCIV"
    assert to_roman(3) == "III"
    assert to_roman(58) == "LVIII"


def test_from_roman():
    assert from_roman("MCMXCIV") == 1994
    assert from_roman("xl") == 40


def test_is_valid():
    assert is_valid("XIV")
    assert not is_valid("IIII")
    assert not is_valid("ABC")
