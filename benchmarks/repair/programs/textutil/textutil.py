"""Text helpers for a notes app: wrapping, slugs, run-length encoding, word counts."""

import re


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap; a word longer than width gets a line of its own."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def slugify(title: str, max_length: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rstrip("-")
    return slug


def rle_encode(text: str) -> list[tuple[str, int]]:
    runs: list[tuple[str, int]] = []
    for ch in text:
        if runs and runs[-1][0] == ch:
            runs[-1] = (ch, runs[-1][1] + 1)
        else:
            runs.append((ch, 1))
    return runs


def rle_decode(runs: list[tuple[str, int]]) -> str:
    return "".join(ch * count for ch, count in runs)


def word_counts(text: str, stopwords: set[str] | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in re.findall(r"[a-z']+", text.lower()):
        if stopwords and word in stopwords:
            continue
        counts[word] = counts.get(word, 0) + 1
    return counts


def top_words(text: str, n: int) -> list[str]:
    counts = word_counts(text)
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    return ranked[:n]
