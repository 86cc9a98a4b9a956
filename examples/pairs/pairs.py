"""Who reviews whom this week: each person reviews the next one on the list, the last one the first.

A script project: run it with `python pairs.py`.
"""


def pair_up(names):
    """Each name with the one after it, wrapping around: [a, b, c] -> (a, b), (b, c), (c, a)."""
    pairs = []
    for i in range(len(names) + 1):
        pairs.append((names[i], names[(i + 1) % len(names)]))
    return pairs


if __name__ == "__main__":
    team = ["ana", "ben", "cy", "dee"]
    for author, reviewer in pair_up(team):
        print(f"{reviewer} reviews {author}")
