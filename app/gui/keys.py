"""The keys of every grid of cards, as one table: the grids dispatch on it and Help ▸ Keyboard shortcuts lists it,
after the menus' own shortcuts (read from the menu bar's actions, so the list is never out of date)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

Key = Qt.Key
MOVE_KEYS = {
    Key.Key_Left: "left",
    Key.Key_Right: "right",
    Key.Key_Up: "up",
    Key.Key_Down: "down",
    Key.Key_PageUp: "page_up",
    Key.Key_PageDown: "page_down",
    Key.Key_Home: "home",
    Key.Key_End: "end",
}
PREVIEW_KEYS = (Key.Key_Return, Key.Key_Enter, Key.Key_Space)

# (keys as a person reads them, what they do) in the results and browse grids
GRID_KEYS = (
    ("← → ↑ ↓", "Move to the next card left, right, up or down"),
    ("Page Up / Page Down", "Move a screenful"),
    ("Home / End", "The first or last card"),
    ("Shift + a move", "Extend the selection"),
    ("Enter or Space", "Open the large preview (Space or Esc closes it; ← → walk on)"),
    ("Click", "Select one card"),
    ("Ctrl+click", "Add a card to the selection, or take it out"),
    ("Shift+click", "Select the cards from the last one clicked"),
    ("Ctrl+A", "Select every card (browse)"),
    ("Ctrl+C", "Copy the selected cards' paths"),
)

# (keys and mouse, what they do) on the map
MAP_KEYS = (
    ("Drag (Box or Lasso)", "Select the points inside, instead of the selection"),
    ("Shift+drag or Shift+click", "Add the points to the selection (a box, even in Pan mode)"),
    ("Ctrl+drag or Ctrl+click", "Take the points out of the selection"),
    ("Click", "Select a point and show its neighbours"),
    ("Home", "Fit the whole map"),
)


def move_of(event: QKeyEvent) -> str | None:
    """The move a key press asks for in a grid (see ``MOVE_KEYS``), if any."""
    return MOVE_KEYS.get(Key(event.key()))


def wants_preview(event: QKeyEvent) -> bool:
    return Key(event.key()) in PREVIEW_KEYS and not event.modifiers() & Qt.KeyboardModifier.ControlModifier


def menu_shortcuts(menus: QMenuBar) -> list[tuple[str, str]]:
    """(keys, "Menu ▸ Action") for every action of the menu bar that has a shortcut."""
    found = []

    def walk(menu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path}{action.menu().title().replace('&', '')} ▸ ")
            elif action.shortcuts():
                keys = " or ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
                found.append((keys, path + action.text().replace("&", "")))

    for action in menus.actions():
        if action.menu() is not None:
            walk(action.menu(), f"{action.menu().title().replace('&', '')} ▸ ")
    return found


class ShortcutsDialog(QDialog):
    """Help ▸ Keyboard shortcuts: the menus' shortcuts, then the grids' keys and the map's."""

    def __init__(self, menus: QMenuBar, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = [
            *menu_shortcuts(menus),
            *((keys, f"Results and browse: {what}") for keys, what in GRID_KEYS),
            *((keys, f"Map: {what}") for keys, what in MAP_KEYS),
        ]
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "What they do"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for n, (keys, what) in enumerate(rows):
            self.table.setItem(n, 0, QTableWidgetItem(keys))
            self.table.setItem(n, 1, QTableWidgetItem(what))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(640, 560)
