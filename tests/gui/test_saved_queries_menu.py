"""The Saved queries menu renders the session's saved queries and restores the one chosen."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.gui.saved_queries import SavedQueriesMenu
from app.state.query import text_term
from app.state.saved_queries import record_of
from app.state.session import Session
from engine.workspace import Filter


def test_choosing_a_saved_query_restores_it_and_a_bad_one_says_why(qtbot):
    session = Session()
    menu = SavedQueriesMenu(session)
    qtbot.addWidget(menu)
    assert [a.text() for a in menu.actions()] == ["No saved queries: Query ▸ Save query…"]
    dogs = (text_term("dog", 0.6), text_term("grass", 1.3))
    session.saved.load({"dogs": record_of(dogs, Filter(min_score=0.25)), "broken": {"version": 1}})
    actions = {a.text(): a for a in menu.actions()}
    assert list(actions) == ["broken", "dogs"]
    assert actions["dogs"].toolTip() == "“dog” ×0.6, “grass” ×1.3"
    actions["dogs"].trigger()
    assert session.query.terms == dogs and session.filters.value.min_score == 0.25
    assert session.message == "Restored the saved query “dogs”"
    actions["broken"].trigger()
    assert "'broken' cannot be restored" in session.message and session.query.terms == dogs
