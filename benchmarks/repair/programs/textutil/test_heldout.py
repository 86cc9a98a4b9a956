from textutil import rle_decode, rle_encode, slugify, top_words, word_counts, wrap


def test_wrap_edges():
    assert wrap("", 5) == []
    assert wrap("extraordinary cat", 5) == ["extraordinary", "cat"]
    assert wrap("ab cd", 5) == ["ab cd"]


def test_slug_edges():
    assert slugify("  --Already--slugged--  ") == "already-slugged"
    assert slugify("abc def", 4) == "abc"


def test_rle_round_trip():
    for text in ("", "a", "aabbbcccc", "abab"):
        assert rle_decode(rle_encode(text)) == text


def test_counts_without_stopwords():
    assert word_counts("It's it's IT") == {"it's": 2, "it": 1}
    assert top_words("z y x", 5) == ["x", "y", "z"]
