import pytest
from cart import Cart, apply_coupon, checkout, line_total


def test_add_rejects_zero_quantity():
    with pytest.raises(ValueError):
        Cart().add("x", 10, 0)


def test_remove_all_and_more():
    cart = Cart()
    cart.add("pen", 120, 2)
    cart.remove("pen", 5)
    assert cart.items == {}
    assert cart.count() == 0


def test_bulk_rounding():
    assert line_total(33, 11) == 327
    assert line_total(7, 1) == 7


def test_coupon_never_negative_and_unknown_kind():
    assert apply_coupon(100, {"kind": "fixed", "value": 500}) == 0
    assert apply_coupon(100, {"kind": "bogus", "value": 5}) == 100


def test_checkout_without_coupon_and_empty():
    cart = Cart()
    assert checkout(cart) == 0
    cart.add("tea", 400, 2)
    assert checkout(cart) == 960
    assert checkout(cart, {"kind": "percent", "value": 50}) == 480
