"""Which card is current and which are selected, in a grid of any size; no Qt.

One model for every grid of cards (search results, browse): arrow keys move the current card by
a column or a row, Page keys by a screenful, Home/End to the ends; a click makes one card the
selection, Ctrl+click toggles one, Shift+click (and Shift+arrow) selects the run from the anchor.
"""

from __future__ import annotations

from psygnal import Signal

MOVES = ("left", "right", "up", "down", "page_up", "page_down", "home", "end")


class Picks:
    changed = Signal()  # ``current`` or ``selected`` changed

    def __init__(self, total: int = 0):
        self.total = total
        self.current = -1
        self.selected: set[int] = set()
        self._anchor = -1

    def reset(self, total: int) -> None:
        self.total, self.current, self.selected, self._anchor = total, -1, set(), -1
        self.changed.emit()

    def click(self, row: int, ctrl: bool = False, shift: bool = False) -> None:
        if not 0 <= row < self.total:
            return
        if shift and self._anchor >= 0:
            low, high = sorted((self._anchor, row))
            run = set(range(low, high + 1))
            self.selected = self.selected | run if ctrl else run
        elif ctrl:
            self.selected ^= {row}
            self._anchor = row
        else:
            self.selected, self._anchor = {row}, row
        self.current = row
        self.changed.emit()

    def move(self, move: str, columns: int = 1, rows_per_page: int = 1, shift: bool = False) -> int:
        """Move the current card (``move`` is one of ``MOVES``); returns the new current row."""
        if not self.total:
            return -1
        columns, here = max(1, columns), max(self.current, 0)
        step = {
            "left": -1,
            "right": 1,
            "up": -columns,
            "down": columns,
            "page_up": -columns * max(1, rows_per_page),
            "page_down": columns * max(1, rows_per_page),
            "home": -here,
            "end": self.total - 1 - here,
        }[move]
        if self.current < 0:  # the first key picks a card: the last for End, else the first
            target = self.total - 1 if move == "end" else 0
        else:
            target = min(max(here + step, 0), self.total - 1)
        self.click(target, shift=shift)
        return target

    @property
    def count(self) -> int:
        """How many rows ``rows`` holds, without sorting a selection of a million."""
        return len(self.selected) or int(self.current >= 0)

    def rows(self) -> list[int]:
        """The selected rows in order, or the current one when nothing is selected."""
        if self.selected:
            return sorted(self.selected)
        return [self.current] if self.current >= 0 else []
