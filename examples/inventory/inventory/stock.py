"""Stock levels per SKU."""

from __future__ import annotations


class Inventory:
    def __init__(self) -> None:
        self._levels: dict[str, int] = {}

    def receive(self, sku: str, qty: int) -> None:
        if qty <= 0:
            raise ValueError("quantity must be positive")
        self._levels[sku] = self._levels.get(sku, 0) + qty

    def ship(self, sku: str, qty: int) -> None:
        if self.quantity(sku) < qty:
            raise ValueError(f"not enough {sku} in stock")
        self._levels[sku] -= qty

    def quantity(self, sku: str) -> int:
        """Units on hand; a SKU we never received has none."""
        return self._levels[sku]
