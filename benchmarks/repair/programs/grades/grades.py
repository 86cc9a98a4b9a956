"""Course exercises, the way a learner's correct solutions look: grades, words, lists."""


def average(marks):
    """The mean of the marks, 0.0 for none."""
    if len(marks) == 0:
        return 0.0
    total = 0
    for mark in marks:
        total += mark
    return total / len(marks)


def letter(score):
    """A for 90 and up, B for 80 and up, C for 70 and up, D for 60 and up, else F."""
    if score >= 90:
        return "A"
    elif score >= 80:
        return "B"
    elif score >= 70:
        return "C"
    elif score >= 60:
        return "D"
    return "F"


def count_vowels(text):
    count = 0
    for ch in text.lower():
        if ch in "aeiou":
            count += 1
    return count


def reverse_words(sentence):
    words = sentence.split()
    result = []
    for i in range(len(words) - 1, -1, -1):
        result.append(words[i])
    return " ".join(result)


def histogram(values):
    """How many times each value occurs."""
    counts = {}
    for value in values:
        if value in counts:
            counts[value] += 1
        else:
            counts[value] = 1
    return counts


def second_largest(numbers):
    """The second largest distinct number, or None."""
    largest = None
    second = None
    for n in numbers:
        if largest is None or n > largest:
            second = largest
            largest = n
        elif n != largest and (second is None or n > second):
            second = n
    return second


def remove_duplicates(items):
    """The items without repeats, first occurrence kept, in order."""
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def fizzbuzz(n):
    out = []
    for i in range(1, n + 1):
        if i % 15 == 0:
            out.append("FizzBuzz")
        elif i % 3 == 0:
            out.append("Fizz")
        elif i % 5 == 0:
            out.append("Buzz")
        else:
            out.append(str(i))
    return out


def is_palindrome(text):
    """Ignoring case and everything but letters and digits."""
    cleaned = ""
    for ch in text:
        if ch.isalnum():
            cleaned += ch.lower()
    return cleaned == cleaned[::-1]


def running_total(numbers):
    totals = []
    total = 0
    for n in numbers:
        total = total + n
        totals.append(total)
    return totals


def index_of_max(numbers):
    """The index of the first largest number, or -1 for none."""
    if not numbers:
        return -1
    best = 0
    for i in range(1, len(numbers)):
        if numbers[i] > numbers[best]:
            best = i
    return best


def title_case(sentence):
    words = sentence.split(" ")
    for i in range(len(words)):
        if words[i]:
            words[i] = words[i][0].upper() + words[i][1:].lower()
    return " ".join(words)


def class_report(students):
    """{name: marks} -> {name: (average rounded to 1 place, letter)}, best average first."""
    rows = []
    for name, marks in students.items():
        avg = average(marks)
        rows.append((name, round(avg, 1), letter(avg)))
    rows.sort(key=lambda row: row[1], reverse=True)
    report = {}
    for name, avg, grade in rows:
        report[name] = (avg, grade)
    return report


def count_words(text):
    """How often each word occurs, case-insensitive, punctuation stripped."""
    counts = {}
    for word in text.split():
        word = word.strip(".,!?;:").lower()
        if word == "":
            continue
        counts[word] = counts.get(word, 0) + 1
    return counts


def chunk(items, size):
    """Consecutive pieces of at most size items."""
    pieces = []
    for start in range(0, len(items), size):
        pieces.append(items[start:start + size])
    return pieces


def digits_sum(n):
    total = 0
    n = abs(n)
    while n > 0:
        total += n % 10
        n = n // 10
    return total
