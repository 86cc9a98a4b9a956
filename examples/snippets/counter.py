calls = 0


def record_call():
    calls += 1
    return calls


record_call()
assert record_call() == 2
print("calls:", calls)
