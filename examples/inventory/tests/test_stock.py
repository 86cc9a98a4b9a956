import pytest

from inventory import Inventory


def test_receive_and_ship():
    inv = Inventory()
    inv.receive("apple", 5)
    inv.ship("apple", 2)
    assert inv.quantity("apple") == 3


def test_unknown_sku_has_no_stock():
    assert Inventory().quantity("pear") == 0


def test_cannot_ship_more_than_on_hand():
    inv = Inventory()
    inv.receive("fig", 1)
    with pytest.raises(ValueError):
        inv.ship("fig", 2)
