"""Directed graphs as adjacency dicts: reachability, shortest paths, ordering."""

from collections import deque


def neighbours(graph: dict[str, list[str]], node: str) -> list[str]:
    return graph.get(node, [])


def shortest_path(graph: dict[str, list[str]], start: str, goal: str) -> list[str] | None:
    """Fewest-edges path from start to goal (BFS), or None."""
    if start == goal:
        return [start]
    previous = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in neighbours(graph, node):
            if nxt in previous:
                continue
            previous[nxt] = node
            if nxt == goal:
                path = [goal]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return path[::-1]
            queue.append(nxt)
    return None


def reachable(graph: dict[str, list[str]], start: str) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        node = stack.pop()
        for nxt in neighbours(graph, node):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def topological_order(graph: dict[str, list[str]]) -> list[str]:
    """Kahn's algorithm; ties broken alphabetically. Raises ValueError on a cycle."""
    nodes = set(graph) | {n for targets in graph.values() for n in targets}
    indegree = {n: 0 for n in nodes}
    for targets in graph.values():
        for t in targets:
            indegree[t] += 1
    ready = sorted(n for n in nodes if indegree[n] == 0)
    order = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for t in neighbours(graph, node):
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
                ready.sort()
    if len(order) != len(nodes):
        raise ValueError("graph has a cycle")
    return order


def degree_table(graph: dict[str, list[str]]) -> dict[str, tuple[int, int]]:
    """node -> (in-degree, out-degree)."""
    table = {n: (0, len(targets)) for n, targets in graph.items()}
    for targets in graph.values():
        for t in targets:
            indeg, outdeg = table.get(t, (0, 0))
            table[t] = (indeg + 1, outdeg)
    return table
