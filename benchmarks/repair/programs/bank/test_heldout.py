import pytest
from bank import Account, InsufficientFunds, monthly_interest, richest, transfer


def test_exact_balance_can_be_withdrawn():
    acct = Account("ed", 100)
    assert acct.withdraw(100) == 0


def test_invalid_amounts():
    acct = Account("fi", 100)
    with pytest.raises(ValueError):
        acct.deposit(0)
    with pytest.raises(ValueError):
        acct.withdraw(-5)


def test_failed_transfer_moves_nothing():
    a, b = Account("a", 50), Account("b", 10)
    with pytest.raises(InsufficientFunds):
        transfer(a, b, 80)
    assert (a.balance, b.balance) == (50, 10)


def test_interest_rounds_down_and_zero_balance():
    assert monthly_interest(1000, 1.0) == 0
    assert monthly_interest(0, 10.0) == 0
    assert monthly_interest(240000, 2.5) == 500


def test_richest_edges():
    assert richest([]) is None
    assert richest([Account("solo", 1)]) == "solo"
    assert richest([Account("p", 9), Account("q", 3)]) == "p"


def test_history_records_both():
    acct = Account("gi", 0, overdraft=100)
    acct.deposit(10)
    acct.withdraw(60)
    assert acct.history == [("deposit", 10), ("withdraw", 60)]
    assert acct.statement()[-1].split() == ["withdraw", "60", "-50"]
