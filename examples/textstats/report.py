"""Print a short report for a sample text; used by the nightly job."""

from wordcount import average_word_length, top_words

SAMPLE = "The quick brown fox jumps over the lazy dog. The dog sleeps."

avg = average_word_length(SAMPLE)
assert round(avg, 2) == 3.92, avg
assert top_words(SAMPLE, 1) == [("the", 3)]
print(f"average word length: {avg:.2f}")
print(f"top word: {top_words(SAMPLE, 1)[0][0]}")
