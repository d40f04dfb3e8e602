"""The current card and the selection in a grid of cards, walked by keys and clicks, without a window."""

from __future__ import annotations

from app.state.picks import Picks


def test_arrows_walk_a_grid_by_column_and_row_and_stop_at_its_ends():
    picks = Picks(10)  # a grid of 4 columns: rows of 4, 4 and 2 cards
    assert picks.move("right", 4) == 0  # the first key press picks the first card
    assert picks.move("down", 4) == 4
    assert picks.move("right", 4) == 5
    assert picks.move("down", 4) == 9 and picks.move("down", 4) == 9
    assert picks.move("up", 4) == 5 and picks.move("left", 4) == 4
    assert picks.move("page_down", 4, rows_per_page=2) == 9
    assert picks.move("home", 4) == 0 and picks.move("left", 4) == 0
    assert picks.move("end", 4) == 9
    assert picks.selected == {9} and picks.rows() == [9]


def test_ctrl_toggles_and_shift_selects_a_run_from_the_anchor():
    picks = Picks(20)
    picks.click(3)
    picks.click(7, shift=True)
    assert picks.rows() == [3, 4, 5, 6, 7]
    picks.click(5, ctrl=True)
    assert picks.rows() == [3, 4, 6, 7]
    picks.click(10, ctrl=True)
    picks.click(12, ctrl=True, shift=True)
    assert picks.rows() == [3, 4, 6, 7, 10, 11, 12] and picks.count == 7
    picks.move("right", 5, shift=True)
    assert picks.current == 13 and picks.rows() == [10, 11, 12, 13]
    picks.click(25)  # past the end: nothing changes
    assert picks.current == 13
    picks.reset(3)
    assert picks.rows() == [] and picks.count == 0 and picks.move("down", 5) == 0
    assert picks.count == 1
    picks.reset(3)
    assert picks.move("end", 5) == 2
