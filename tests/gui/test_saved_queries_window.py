"""Save query… in the window keeps the query with the library: a window opened later on it lists and restores it."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog

from app.gui.keys import ShortcutsDialog
from app.state.query import text_term
from tests.gui.conftest import ENGINE_TIMEOUT_MS, settle


def test_save_query_in_the_window_survives_reopening(qtbot, make_window, tmp_path, monkeypatch):
    library = tmp_path / "library"
    window = make_window(library)
    window.session.query.replace(text_term("a dog", 0.8), text_term("rain", -0.4))
    window.session.filters.set(glob="*.jpg")
    monkeypatch.setattr(QInputDialog, "getText", lambda *args: ("dog in rain", True))
    [save] = [a for a in window.findChildren(QAction) if a.text() == "&Save query…"]
    save.trigger()
    qtbot.waitUntil(lambda: window.session.saved.names == ("dog in rain",), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    window.close()

    later = make_window(library)
    qtbot.waitUntil(lambda: later.saved_menu.actions()[0].text() == "dog in rain", timeout=ENGINE_TIMEOUT_MS)
    later.saved_menu.actions()[0].trigger()
    assert later.session.query.terms == (text_term("a dog", 0.8), text_term("rain", -0.4))
    assert later.session.filters.value.glob == "*.jpg"
    later.saved_menu.delete_menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: later.session.saved.names == (), timeout=ENGINE_TIMEOUT_MS)
    later.saved_menu.undo_action.trigger()
    qtbot.waitUntil(lambda: later.session.saved.names == ("dog in rain",), timeout=ENGINE_TIMEOUT_MS)
    table = ShortcutsDialog(later.menuBar(), later).table
    rows = {table.item(n, 1).text(): table.item(n, 0).text() for n in range(table.rowCount())}
    assert rows["Query ▸ Save query…"] == "Ctrl+S"
    assert rows["Map: Take the points out of the selection"] == "Ctrl+drag or Ctrl+click"
