from graph import degree_table, reachable, shortest_path, topological_order


def test_path_to_self_and_unknown():
    assert shortest_path({"a": []}, "a", "a") == ["a"]
    assert shortest_path({"a": ["b"]}, "a", "b") == ["a", "b"]
    assert shortest_path({"a": ["b"]}, "z", "b") is None


def test_reachable_leaf_and_cycle():
    assert reachable({"a": []}, "a") == {"a"}
    assert reachable({"a": ["b"], "b": ["a"]}, "b") == {"a", "b"}


def test_topo_with_sink_only_nodes():
    assert topological_order({"b": ["a"], "c": []}) == ["b", "a", "c"]
    assert topological_order({}) == []


def test_degrees_of_sinks():
    table = degree_table({"a": ["b", "c"], "b": ["c"]})
    assert table == {"a": (0, 2), "b": (1, 1), "c": (2, 0)}
