"""Word statistics for plain-text reports."""

from collections import Counter


def words(text):
    return [w.strip(".,;:!?").lower() for w in text.split() if w.strip(".,;:!?")]


def top_words(text, n=3):
    counts = Counter(words(text))
    return counts.most_common(n)


def average_word_length(text):
    found = words(text)
    if not found:
        return 0.0
    return sum(len(w) for w in found) / len(fonud)
