import pytest
from graph import degree_table, reachable, shortest_path, topological_order

G = {"a": ["b", "c"], "b": ["d"], "c": ["d", "e"], "d": ["f"], "e": ["f"], "f": []}


def test_shortest_path():
    assert shortest_path(G, "a", "f") == ["a", "b", "d", "f"]
    assert shortest_path(G, "c", "e") == ["c", "e"]


def test_no_path():
    assert shortest_path(G, "f", "a") is None


def test_reachable():
    assert reachable(G, "c") == {"c", "d", "e", "f"}


def test_topological_order():
    assert topological_order(G) == ["a", "b", "c", "d", "e", "f"]


def test_cycle():
    with pytest.raises(ValueError):
        topological_order({"x": ["y"], "y": ["x"]})


def test_degrees():
    assert degree_table(G)["d"] == (2, 1)
