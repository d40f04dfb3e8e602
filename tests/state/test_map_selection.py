"""The map's selection without a window: a drag replaces it, Shift adds to it, Ctrl removes from it."""

from __future__ import annotations

import numpy as np

from app.state.map_selection import MapSelection, results_title, sorted_unique
from app.state.session import Session


def test_a_plain_edit_replaces_shift_adds_and_ctrl_removes():
    selection = MapSelection()
    counts = []
    selection.changed.connect(counts.append)
    selection.edit([5, 3, 3, 9])
    assert selection.ids.tolist() == [3, 5, 9]
    selection.edit([9, 12, 1], shift=True)
    assert selection.ids.tolist() == [1, 3, 5, 9, 12]
    selection.edit([3, 12, 40], ctrl=True)
    assert selection.ids.tolist() == [1, 5, 9]
    selection.edit([7])
    assert selection.ids.tolist() == [7]
    assert counts == [3, 5, 3, 1]
    assert selection.describe() == "1 selected"


def test_an_edit_that_changes_nothing_says_nothing():
    selection = MapSelection()
    selection.edit([1, 2])
    heard = []
    selection.changed.connect(heard.append)
    selection.edit([2], shift=True)
    selection.edit([8], ctrl=True)
    assert heard == [] and selection.ids.tolist() == [1, 2]


def test_keep_only_drops_what_a_filtered_map_no_longer_shows():
    selection = MapSelection()
    selection.edit(np.arange(1_000_000))
    assert selection.describe() == "1,000,000 selected"
    selection.keep_only(np.arange(10, 20))
    assert selection.ids.tolist() == list(range(10, 20))
    selection.clear()
    assert len(selection) == 0


def test_the_session_holds_the_map_selection():
    session = Session()
    session.map_selection.edit([4, 2])
    assert session.map_selection.ids.tolist() == [2, 4]


def test_sorted_unique_is_numpys_unique():
    rng = np.random.default_rng(5)
    for size in (0, 1, 2, 1000):
        values = rng.integers(0, 50, size=size)
        assert np.array_equal(sorted_unique(values), np.unique(values))


def test_items_a_new_map_lacks_are_held_aside_and_selected_again_when_back():
    selection = MapSelection()
    selection.edit([3, 5, 9, 12])
    selection.keep_only([1, 2, 3, 4, 5, 12])  # an update (or a filter) without item 9
    assert selection.ids.tolist() == [3, 5, 12] and selection.away.tolist() == [9]
    selection.keep_only([])
    assert selection.ids.tolist() == [] and selection.away.tolist() == [3, 5, 9, 12]
    selection.keep_only(range(20))  # laid out again with all of them
    assert selection.ids.tolist() == [3, 5, 9, 12] and selection.away.tolist() == []
    selection.keep_only([3, 5])
    selection.edit([5], ctrl=True)  # Ctrl takes points out; what is held aside stays held
    selection.edit([7], shift=True)
    selection.keep_only(range(20))
    assert selection.ids.tolist() == [3, 7, 9, 12]
    selection.keep_only([3])
    selection.edit([4])  # a new selection lets the held items go
    selection.keep_only(range(20))
    assert selection.ids.tolist() == [4]
    selection.keep_only([1])
    selection.clear()
    selection.keep_only(range(20))
    assert selection.ids.tolist() == []


def test_the_results_title_says_when_it_shows_part_of_a_selection():
    assert results_title(200) == "Map selection of 200"
    assert results_title(25_000) == "Map selection: the first 200 of 25,000 (Browse shows all of them)"
