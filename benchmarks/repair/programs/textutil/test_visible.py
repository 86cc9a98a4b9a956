from textutil import rle_decode, rle_encode, slugify, top_words, word_counts, wrap


def test_wrap():
    assert wrap("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"]


def test_slugify():
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("A very long title indeed", 10) == "a-very-lon"


def test_rle():
    assert rle_encode("aaabcc") == [("a", 3), ("b", 1), ("c", 2)]
    assert rle_decode([("x", 2), ("y", 1)]) == "xxy"


def test_word_counts():
    assert word_counts("The cat and the hat", {"and"}) == {"the": 2, "cat": 1, "hat": 1}


def test_top_words():
    assert top_words("b a b c a b", 2) == ["b", "a"]
