import pytest
from lru import LRUCache


def test_update_moves_to_end_without_growing():
    c = LRUCache(2)
    c.put("a", 1)
    c.put("b", 2)
    c.put("a", 10)
    assert c.keys() == ["b", "a"]
    assert c.get("a") == 10
    c.put("c", 3)
    assert c.keys() == ["a", "c"]


def test_empty_rate_and_bad_capacity():
    assert LRUCache(1).hit_rate() == 0.0
    with pytest.raises(ValueError):
        LRUCache(0)
    with pytest.raises(ValueError):
        LRUCache(2).resize(0)


def test_capacity_exact():
    c = LRUCache(3)
    for k in "abc":
        c.put(k, k)
    assert c.keys() == ["a", "b", "c"]
    c.resize(5)
    assert len(c.keys()) == 3
