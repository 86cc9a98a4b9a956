"""A shopping cart: line items, discounts and tax, all in integer cents."""

TAX_RATE_PERCENT = 20
BULK_THRESHOLD = 10


class Cart:
    def __init__(self):
        self.items: dict[str, tuple[int, int]] = {}  # sku -> (unit price, quantity)

    def add(self, sku: str, price: int, quantity: int = 1) -> None:
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        if sku in self.items:
            old_price, old_quantity = self.items[sku]
            self.items[sku] = (old_price, old_quantity + quantity)
        else:
            self.items[sku] = (price, quantity)

    def remove(self, sku: str, quantity: int = 1) -> None:
        price, current = self.items[sku]
        if quantity >= current:
            del self.items[sku]
        else:
            self.items[sku] = (price, current - quantity)

    def count(self) -> int:
        return sum(quantity for _price, quantity in self.items.values())

    def subtotal(self) -> int:
        total = 0
        for sku in sorted(self.items):
            price, quantity = self.items[sku]
            total += line_total(price, quantity)
        return total


def line_total(price: int, quantity: int) -> int:
    """Bulk lines (BULK_THRESHOLD items or more) get 10% off, rounded down to the cent."""
    total = price * quantity
    if quantity >= BULK_THRESHOLD:
        total -= total // 10
    return total


def apply_coupon(amount: int, coupon: dict) -> int:
    """A coupon is {"kind": "percent"|"fixed", "value": n}; the total never goes below zero."""
    if coupon["kind"] == "percent":
        amount -= amount * coupon["value"] // 100
    elif coupon["kind"] == "fixed":
        amount -= coupon["value"]
    return max(amount, 0)


def with_tax(amount: int) -> int:
    return amount + amount * TAX_RATE_PERCENT // 100


def checkout(cart: Cart, coupon: dict | None = None) -> int:
    amount = cart.subtotal()
    if coupon is not None:
        amount = apply_coupon(amount, coupon)
    return with_tax(amount)
