from grades import (
    average,
    chunk,
    class_report,
    count_vowels,
    count_words,
    digits_sum,
    fizzbuzz,
    histogram,
    index_of_max,
    is_palindrome,
    letter,
    remove_duplicates,
    reverse_words,
    running_total,
    second_largest,
    title_case,
)


def test_average_more():
    assert average([1, 2]) == 1.5 and average([7]) == 7 and average([0, 0, 0]) == 0


def test_letter_more():
    assert [letter(s) for s in (100, 89, 80, 79, 60, 59, 0)] == ["A", "B", "B", "C", "D", "F", "F"]


def test_vowels_more():
    assert count_vowels("") == 0 and count_vowels("AEIOU xyz") == 5 and count_vowels("rhythm") == 0


def test_reverse_words_more():
    assert reverse_words("one") == "one" and reverse_words("") == "" and reverse_words(" a  b ") == "b a"


def test_histogram_more():
    assert histogram([]) == {} and histogram([1, 1, 1]) == {1: 3} and histogram("abca") == {"a": 2, "b": 1, "c": 1}


def test_second_largest_more():
    assert second_largest([1, 2]) == 1 and second_largest([2, 2, 2]) is None and second_largest([]) is None
    assert second_largest([-1, -5, -3]) == -3 and second_largest([10, 20, 30, 40]) == 30


def test_remove_duplicates_more():
    assert remove_duplicates([]) == [] and remove_duplicates(["a", "a"]) == ["a"] and remove_duplicates([1, 2]) == [1, 2]


def test_fizzbuzz_more():
    assert fizzbuzz(5) == ["1", "2", "Fizz", "4", "Buzz"] and fizzbuzz(0) == [] and fizzbuzz(30)[29] == "FizzBuzz"


def test_palindrome_more():
    assert is_palindrome("") and is_palindrome("Racecar") and is_palindrome("12321") and not is_palindrome("ab")


def test_running_total_more():
    assert running_total([]) == [] and running_total([5]) == [5] and running_total([1, -1, 1]) == [1, 0, 1]


def test_index_of_max_more():
    assert index_of_max([5]) == 0 and index_of_max([1, 2, 3]) == 2 and index_of_max([-3, -1, -2]) == 1


def test_title_case_more():
    assert title_case("a") == "A" and title_case("ALL CAPS here") == "All Caps Here" and title_case("") == ""


def test_class_report_more():
    assert class_report({}) == {} and class_report({"x": []}) == {"x": (0.0, "F")}
    assert class_report({"a": [59], "b": [60]}) == {"b": (60.0, "D"), "a": (59.0, "F")}


def test_count_words_more():
    assert count_words("") == {} and count_words("Hi... hi?") == {"hi": 2} and count_words("- a") == {"-": 1, "a": 1}


def test_chunk_more():
    assert chunk([], 3) == [] and chunk([1, 2, 3], 3) == [[1, 2, 3]] and chunk([1, 2, 3], 5) == [[1, 2, 3]]


def test_digits_sum_more():
    assert digits_sum(0) == 0 and digits_sum(9) == 9 and digits_sum(1001) == 2
