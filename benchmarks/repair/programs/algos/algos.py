"""Classic algorithms, written plainly: the kind of code whose bugs give wrong answers, not crashes."""

from collections import deque


def binary_search(items, target):
    """Index of target in the sorted list items, or -1."""
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1


def gcd(a, b):
    while b:
        a, b = b, a % b
    return abs(a)


def primes_up_to(n):
    """The primes <= n (sieve of Eratosthenes)."""
    if n < 2:
        return []
    is_prime = [True] * (n + 1)
    is_prime[0] = is_prime[1] = False
    p = 2
    while p * p <= n:
        if is_prime[p]:
            for multiple in range(p * p, n + 1, p):
                is_prime[multiple] = False
        p += 1
    return [i for i in range(n + 1) if is_prime[i]]


def bfs_order(graph, start):
    """Nodes in breadth-first order from start; neighbours in the order listed."""
    seen = {start}
    order = []
    queue = deque([start])
    while queue:
        node = queue.popleft()
        order.append(node)
        for nxt in graph.get(node, []):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return order


def topo_sort(graph):
    """A topological order of a DAG given as {node: [nodes it points to]} (Kahn, stable by name)."""
    indegree = {node: 0 for node in graph}
    for targets in graph.values():
        for t in targets:
            indegree[t] = indegree.get(t, 0) + 1
    ready = sorted(n for n, d in indegree.items() if d == 0)
    order = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for t in graph.get(node, []):
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
                ready.sort()
    if len(order) != len(indegree):
        raise ValueError("the graph has a cycle")
    return order


def max_subarray(items):
    """The largest sum of a non-empty contiguous run (Kadane)."""
    best = current = items[0]
    for x in items[1:]:
        current = max(x, current + x)
        best = max(best, current)
    return best


def lis_length(items):
    """Length of the longest strictly increasing subsequence."""
    if not items:
        return 0
    lengths = [1] * len(items)
    for i in range(1, len(items)):
        for j in range(i):
            if items[j] < items[i]:
                lengths[i] = max(lengths[i], lengths[j] + 1)
    return max(lengths)


def merge_sorted(a, b):
    """One sorted list from two sorted lists."""
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i] <= b[j]:
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    out.extend(a[i:])
    out.extend(b[j:])
    return out


def flatten(nested):
    """Every non-list item of arbitrarily nested lists, in order."""
    out = []
    for item in nested:
        if isinstance(item, list):
            out.extend(flatten(item))
        else:
            out.append(item)
    return out


def to_binary(n):
    """n >= 0 in base 2, as text."""
    if n == 0:
        return "0"
    digits = []
    while n > 0:
        digits.append(str(n % 2))
        n //= 2
    return "".join(reversed(digits))


def balanced(text):
    """Do (), [] and {} nest correctly in text?"""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    for ch in text:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack


def edit_distance(a, b):
    """Levenshtein distance."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost))
        prev = cur
    return prev[-1]


def knapsack(weights, values, capacity):
    """The best total value within capacity, each item at most once."""
    best = [0] * (capacity + 1)
    for w, v in zip(weights, values):
        for c in range(capacity, w - 1, -1):
            best[c] = max(best[c], best[c - w] + v)
    return best[capacity]


def kth_smallest(items, k):
    """The k-th smallest item (1-based)."""
    pivot = items[len(items) // 2]
    below = [x for x in items if x < pivot]
    equal = [x for x in items if x == pivot]
    above = [x for x in items if x > pivot]
    if k <= len(below):
        return kth_smallest(below, k)
    if k <= len(below) + len(equal):
        return pivot
    return kth_smallest(above, k - len(below) - len(equal))


def shortest_path_length(graph, start, goal):
    """Edges on a shortest path in an unweighted graph, or -1."""
    if start == goal:
        return 0
    seen = {start}
    queue = deque([(start, 0)])
    while queue:
        node, dist = queue.popleft()
        for nxt in graph.get(node, []):
            if nxt == goal:
                return dist + 1
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, dist + 1))
    return -1


def bit_count(n):
    """Number of 1 bits in n >= 0."""
    count = 0
    while n:
        n &= n - 1
        count += 1
    return count


def pascal_row(n):
    """Row n (0-based) of Pascal's triangle."""
    row = [1]
    for _ in range(n):
        row = [a + b for a, b in zip([0] + row, row + [0])]
    return row
