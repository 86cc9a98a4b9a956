from lru import LRUCache


def test_get_put():
    c = LRUCache(2)
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1
    assert c.get("zz", "none") == "none"


def test_eviction_order():
    c = LRUCache(2)
    c.put("a", 1)
    c.put("b", 2)
    c.get("a")
    c.put("c", 3)
    assert c.keys() == ["a", "c"]


def test_hit_rate():
    c = LRUCache(1)
    c.put("k", 1)
    c.get("k")
    c.get("x")
    c.get("k")
    assert c.hit_rate() == 2 / 3


def test_resize():
    c = LRUCache(3)
    for k in "abc":
        c.put(k, k)
    c.resize(1)
    assert c.keys() == ["c"]
