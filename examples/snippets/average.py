def average(scores):
    return sum(scores) / len(scores)


def summary(name, scores):
    return f"{name}: {average(scores):.1f}"


print(summary("alice", [90, 85, 77]))
print(summary("bob", []))
