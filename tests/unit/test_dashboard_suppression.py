"""Small-cell suppression: cells 1-4 hidden, and no hidden cell recoverable from a total."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hotline.dashboard.stats.suppression import recoverable, suppress, with_totals


def test_totals_are_added_as_the_last_row_and_column():
    assert with_totals([[1, 2], [3, 4]]) == [[1, 2, 3], [3, 4, 7], [4, 6, 10]]


def test_a_single_small_cell_takes_a_partner_in_its_row_and_its_column():
    table = suppress([[3, 20, 30], [40, 50, 60]])
    hidden = {(r, c) for r, row in enumerate(table.hidden) for c, h in enumerate(row) if h}
    assert (0, 0) in hidden
    assert (0, 1) in hidden  # the smallest other cell of row 0
    assert (1, 0) in hidden  # the smallest other cell of column 0
    assert (1, 1) in hidden  # closes row 1 and column 1 in turn
    assert recoverable(table) == []
    assert table.shown(2, 3) == 203  # the grand total stays


def test_zeros_are_shown_and_never_count_as_a_partner_when_another_cell_can():
    table = suppress([[0, 2, 10], [0, 30, 40]])
    assert table.shown(0, 0) == 0 and table.shown(1, 0) == 0
    assert table.hidden[0][1] and table.hidden[0][2]


def test_a_row_whose_only_count_is_small_hides_its_total_too():
    table = suppress([[0, 0, 3], [10, 20, 30]])
    assert table.hidden[0][2] and table.hidden[0][3]
    assert recoverable(table) == []


def test_nothing_is_hidden_when_every_cell_is_large_enough():
    table = suppress([[5, 6], [7, 80]])
    assert not any(any(row) for row in table.hidden)


tables = st.integers(1, 4).flatmap(
    lambda width: st.lists(
        st.lists(st.integers(0, 40), min_size=width, max_size=width), min_size=1, max_size=5
    )
)


@given(tables)
def test_no_small_cell_shows_and_none_can_be_worked_out_from_one_line(cells):
    table = suppress(cells)
    for r, row in enumerate(table.grid):
        for c, value in enumerate(row):
            if 0 < value < 5:
                assert table.hidden[r][c]
    assert recoverable(table) == []
