from shop.report import cheapest, top_prices


def test_top_two():
    prices = [3, 1, 2]
    assert top_prices(prices, 2) == [3, 2]
    assert prices == [3, 1, 2]


def test_top_of_one_price():
    assert top_prices([4], 3) == [4]


def test_cheapest():
    assert cheapest([3, 1, 2]) == 1
