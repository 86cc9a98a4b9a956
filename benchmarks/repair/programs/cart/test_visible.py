from cart import Cart, apply_coupon, checkout, line_total, with_tax


def make_cart():
    cart = Cart()
    cart.add("apple", 50, 4)
    cart.add("bread", 250)
    return cart


def test_add_merges_lines():
    cart = make_cart()
    cart.add("apple", 50, 2)
    assert cart.items["apple"] == (50, 6)
    assert cart.count() == 7


def test_remove():
    cart = make_cart()
    cart.remove("apple", 3)
    assert cart.items["apple"] == (50, 1)
    cart.remove("bread")
    assert "bread" not in cart.items


def test_subtotal():
    assert make_cart().subtotal() == 450


def test_bulk_discount():
    assert line_total(100, 10) == 900
    assert line_total(100, 9) == 900


def test_coupons():
    assert apply_coupon(1000, {"kind": "percent", "value": 15}) == 850
    assert apply_coupon(1000, {"kind": "fixed", "value": 300}) == 700


def test_checkout():
    assert with_tax(1000) == 1200
    assert checkout(make_cart(), {"kind": "fixed", "value": 50}) == 480
