import pytest
from bank import Account, InsufficientFunds, monthly_interest, richest, transfer


def test_deposit_and_withdraw():
    acct = Account("ana", 1000)
    assert acct.deposit(500) == 1500
    assert acct.withdraw(200) == 1300


def test_withdraw_too_much():
    acct = Account("ben", 100)
    with pytest.raises(InsufficientFunds):
        acct.withdraw(101)


def test_overdraft():
    acct = Account("cy", 100, overdraft=50)
    assert acct.withdraw(150) == -50


def test_transfer():
    a, b = Account("a", 300), Account("b", 0)
    transfer(a, b, 120)
    assert (a.balance, b.balance) == (180, 120)


def test_interest():
    assert monthly_interest(120000, 5.0) == 500
    assert monthly_interest(-100, 5.0) == 0


def test_richest():
    assert richest([Account("x", 5), Account("y", 9), Account("z", 2)]) == "y"


def test_statement():
    acct = Account("di", 100)
    acct.deposit(50)
    acct.withdraw(30)
    assert acct.statement() == ["deposit        50      150", "withdraw       30      120"]
