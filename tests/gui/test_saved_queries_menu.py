"""The Saved queries menu renders the session's saved queries and restores the one chosen; its Delete ▸ and
Rename ▸ entries ask the window to delete or rename one, and Undo delete offers the last one deleted."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QInputDialog

from app.gui.saved_queries import SavedQueriesMenu
from app.state.query import text_term
from app.state.saved_queries import record_of
from app.state.session import Session
from engine.workspace import Filter


def _names(menu) -> list[str]:
    return [a.text() for a in menu.actions() if not a.isSeparator() and a.menu() is None]


def test_choosing_a_saved_query_restores_it_and_a_bad_one_says_why(qtbot):
    session = Session()
    menu = SavedQueriesMenu(session)
    qtbot.addWidget(menu)
    assert _names(menu) == ["No saved queries: Query ▸ Save query…", "&Undo delete"]
    assert not menu.delete_menu.isEnabled() and not menu.undo_action.isEnabled()
    dogs = (text_term("dog", 0.6), text_term("grass", 1.3))
    session.saved.load({"dogs": record_of(dogs, Filter(min_score=0.25)), "broken": {"version": 1}})
    actions = {a.text(): a for a in menu.actions()}
    assert _names(menu)[:2] == ["broken", "dogs"]
    assert actions["dogs"].toolTip() == "“dog” ×0.6, “grass” ×1.3"
    actions["dogs"].trigger()
    assert session.query.terms == dogs and session.filters.value.min_score == 0.25
    assert session.message == "Restored the saved query “dogs”"
    actions["broken"].trigger()
    assert "'broken' cannot be restored" in session.message and session.query.terms == dogs


def test_delete_and_rename_ask_the_window_and_undo_names_the_deleted_query(qtbot, monkeypatch):
    session = Session()
    menu = SavedQueriesMenu(session)
    qtbot.addWidget(menu)
    session.saved.load({"cats": {"version": 1}, "dogs": {"version": 1}})
    asked = []
    menu.delete_requested.connect(lambda name: asked.append(("delete", name)))
    menu.rename_requested.connect(lambda old, new: asked.append(("rename", old, new)))
    menu.undo_delete_requested.connect(lambda: asked.append(("undo",)))
    [delete_dogs] = [a for a in menu.delete_menu.actions() if a.text() == "dogs"]
    delete_dogs.trigger()
    monkeypatch.setattr(QInputDialog, "getText", lambda *args: (" felines ", True))
    menu.rename_menu.actions()[0].trigger()
    assert asked == [("delete", "dogs"), ("rename", "cats", "felines")]
    session.saved.forgotten("dogs", {"cats": {"version": 1}})
    assert _names(menu) == ["cats", "&Undo delete of “dogs”"] and menu.undo_action.isEnabled()
    menu.undo_action.trigger()
    assert asked[-1] == ("undo",)
    session.saved.take_deleted()
    assert not menu.undo_action.isEnabled()
