import pytest

from tablekit import Table


def test_rows_must_match_the_headers():
    with pytest.raises(ValueError):
        Table(["a", "b"], [[1]])


def test_len_counts_rows():
    assert len(Table(["a"], [[1], [2]])) == 2


def test_render_aligns_columns():
    assert Table(["name", "n"], [["ab", 1]]).render() == "name  n\nab    1"
