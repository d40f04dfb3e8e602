"""The map's selection: a set of item ids that a drag or a click replaces, adds to (Shift) or removes from (Ctrl);
no Qt.

The map view renders it and the status of the selection bar reads its count, so one selection is shown wherever
it is looked at, and what a modifier does is tested without a window. Ids are kept sorted and unique in one NumPy
array, so a selection of a million costs a few megabytes and a sort or two per edit.

The selection is of items, not of positions: a map laid out again keeps it, and selected items that a new map
lacks for a while (an update, a filter) are held aside and selected again when they are back; a new selection made
by the person, or Clear, lets them go.
"""

from __future__ import annotations

import numpy as np
from psygnal import Signal


def sorted_unique(values) -> np.ndarray:
    """The distinct int64 values, ascending: one sort (``np.unique`` hashes first, several times slower at 1M)."""
    ordered = np.sort(np.asarray(values, np.int64).ravel())
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


SHOWN_IN_RESULTS = 200  # "Show" puts this many of a map selection in the results; Browse pages through all of it


def results_title(count: int) -> str:
    """The results' title for a map selection of ``count`` items, saying when they show only part of it."""
    if count <= SHOWN_IN_RESULTS:
        return f"Map selection of {count:,}"
    return f"Map selection: the first {SHOWN_IN_RESULTS:,} of {count:,} (Browse shows all of them)"


class MapSelection:
    changed = Signal(int)  # the new count

    def __init__(self):
        self.ids = np.zeros(0, np.int64)  # ascending, unique
        self.away = np.zeros(0, np.int64)  # selected items the map does not show now, ascending, unique

    def __len__(self) -> int:
        return len(self.ids)

    def edit(self, ids, shift: bool = False, ctrl: bool = False) -> None:
        """A drag or click over ``ids``: Shift adds them, Ctrl removes them, neither makes them the selection."""
        ids = sorted_unique(ids)
        if ctrl:
            self.away = self.away[~np.isin(self.away, ids, assume_unique=True)]
            ids = self.ids[~np.isin(self.ids, ids, assume_unique=True)]
        elif shift:
            ids = sorted_unique(np.concatenate((self.ids, ids)))
        else:
            self.away = np.zeros(0, np.int64)
        self._set(ids)

    def keep_only(self, ids) -> None:
        """The map now shows ``ids``: the selected items among them are the selection, the others are held aside
        (and selected again when a later map shows them)."""
        wanted = np.union1d(self.ids, self.away)  # both sorted and unique: no hashing, a merge
        shown = np.isin(wanted, np.asarray(ids, np.int64).ravel())
        self.away = wanted[~shown]
        self._set(wanted[shown])

    def clear(self) -> None:
        self.away = np.zeros(0, np.int64)
        self._set(np.zeros(0, np.int64))

    def describe(self) -> str:
        return f"{len(self.ids):,} selected"

    def _set(self, ids: np.ndarray) -> None:
        if not np.array_equal(ids, self.ids):
            self.ids = ids
            self.changed.emit(len(ids))
