"""The real window, driven by keys: --query names an item, three query changes, Ctrl+Z walks back through
them and the panes show what was searched each time."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.gui.conftest import ENGINE_TIMEOUT_MS, settle


def pane_names(window) -> list[str]:
    return [widget.composed.name for widget in window.composer._widgets]


def searched_values(window) -> list:
    return [e.term.value for e in window.outcome.results.terms] if window.outcome else []


def test_undo_three_query_changes_with_the_keyboard(qtbot, make_window, indexed_library):
    window = make_window(indexed_library)
    window.offer_query("5")  # an item id, as `--query 5` gives it
    qtbot.waitUntil(lambda: searched_values(window) == [5], timeout=ENGINE_TIMEOUT_MS)
    item_names = pane_names(window)
    window.composer.add_text("a dog")
    qtbot.waitUntil(lambda: len(searched_values(window)) == 2, timeout=ENGINE_TIMEOUT_MS)
    window.search_selection([1, 2, 3])
    qtbot.waitUntil(lambda: searched_values(window) == [1, 2, 3], timeout=ENGINE_TIMEOUT_MS)
    assert pane_names(window) == ["Selection of 3 items"]
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.results, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: searched_values(window) == [5, "a dog"], timeout=ENGINE_TIMEOUT_MS)
    assert pane_names(window) == [*item_names, "“a dog”"]
    qtbot.keyClick(window.results, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: searched_values(window) == [5], timeout=ENGINE_TIMEOUT_MS)
    qtbot.keyClick(
        window.results, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    qtbot.waitUntil(lambda: len(searched_values(window)) == 2, timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
