"""Roman numerals, 1 to 3999."""

NUMERALS = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]
VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def to_roman(number: int) -> str:
    if not 0 < number < 4000:
        raise ValueError(f"{number} is out of range")
    parts = []
    for value, symbol in NUMERALS:
        while number >= value:
            parts.append(symbol)
            number -= value
    return "".join(parts)


def from_roman(text: str) -> int:
    text = text.upper()
    total = 0
    for i, char in enumerate(text):
        value = VALUES[char]
        if i + 1 < len(text) and VALUES[text[i + 1]] > value:
            total -= value
        else:
            total += value
    return total


def is_valid(text: str) -> bool:
    """Canonical numerals only: what to_roman would write."""
    if not text or any(c not in VALUES for c in text.upper()):
        return False
    value = from_roman(text)
    return 0 < value < 4000 and to_roman(value) == text.upper()
