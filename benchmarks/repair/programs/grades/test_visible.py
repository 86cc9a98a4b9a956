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


def test_average():
    assert average([80, 90, 100]) == 90 and average([]) == 0.0


def test_letter():
    assert [letter(s) for s in (95, 90, 85, 80, 70, 65, 10)] == ["A", "A", "B", "B", "C", "D", "F"]


def test_vowels():
    assert count_vowels("Hello World") == 3


def test_reverse_words():
    assert reverse_words("the quick brown fox") == "fox brown quick the"


def test_histogram():
    assert histogram(["a", "b", "a", "c", "a"]) == {"a": 3, "b": 1, "c": 1}


def test_second_largest():
    assert second_largest([3, 9, 4, 9, 1]) == 4 and second_largest([5]) is None and second_largest([1, 2]) == 1


def test_remove_duplicates():
    assert remove_duplicates([3, 1, 3, 2, 1]) == [3, 1, 2]


def test_fizzbuzz():
    assert fizzbuzz(15)[-6:] == ["Buzz", "11", "Fizz", "13", "14", "FizzBuzz"]


def test_palindrome():
    assert is_palindrome("A man, a plan, a canal: Panama") and not is_palindrome("python")


def test_running_total():
    assert running_total([1, 2, 3, 4]) == [1, 3, 6, 10]


def test_index_of_max():
    assert index_of_max([3, 8, 2, 8]) == 1 and index_of_max([]) == -1


def test_title_case():
    assert title_case("hello wORLD") == "Hello World"


def test_class_report():
    assert class_report({"ana": [90, 100], "bo": [70, 75], "cy": [85, 80]}) == \
        {"ana": (95.0, "A"), "cy": (82.5, "B"), "bo": (72.5, "C")}
    assert list(class_report({"ana": [60], "bo": [99]})) == ["bo", "ana"]


def test_count_words():
    assert count_words("The cat. the CAT! a dog") == {"the": 2, "cat": 2, "a": 1, "dog": 1}


def test_chunk():
    assert chunk([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


def test_digits_sum():
    assert digits_sum(1234) == 10 and digits_sum(-56) == 11
