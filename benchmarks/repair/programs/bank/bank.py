"""A small ledger: accounts with deposits, withdrawals, transfers and monthly interest."""


class InsufficientFunds(Exception):
    pass


class Account:
    def __init__(self, owner: str, balance: int = 0, overdraft: int = 0):
        self.owner = owner
        self.balance = balance  # in cents
        self.overdraft = overdraft
        self.history: list[tuple[str, int]] = []

    def deposit(self, amount: int) -> int:
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.balance += amount
        self.history.append(("deposit", amount))
        return self.balance

    def available(self) -> int:
        return self.balance + self.overdraft

    def withdraw(self, amount: int) -> int:
        if amount <= 0:
            raise ValueError("withdrawal must be positive")
        if amount > self.available():
            raise InsufficientFunds(f"{self.owner} cannot withdraw {amount}")
        self.balance -= amount
        self.history.append(("withdraw", amount))
        return self.balance

    def statement(self) -> list[str]:
        lines = []
        running = self.balance - sum(a if kind == "deposit" else -a for kind, a in self.history)
        for kind, amount in self.history:
            running = running + amount if kind == "deposit" else running - amount
            lines.append(f"{kind:<8} {amount:>8} {running:>8}")
        return lines


def transfer(source: Account, target: Account, amount: int) -> None:
    source.withdraw(amount)
    target.deposit(amount)


def monthly_interest(balance: int, annual_rate_percent: float) -> int:
    """Interest for one month in whole cents (rounded down); none on a negative balance."""
    if balance <= 0:
        return 0
    return int(balance * annual_rate_percent / 100 / 12)


def richest(accounts: list[Account]) -> str | None:
    if not accounts:
        return None
    best = accounts[0]
    for account in accounts[1:]:
        if account.balance > best.balance:
            best = account
    return best.owner
