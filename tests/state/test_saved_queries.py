"""Saved named queries without a window: saved with the library, restored after reopening it, terms, weights and
filters alike; a record that cannot be read is refused by name and leaves the query as it was."""

from __future__ import annotations

import pytest

from app.state.query import file_term, item_term, selection_term, text_term
from app.state.saved_queries import SavedQueryError
from app.state.session import Session
from engine.modality import Modality
from engine.workspace import WorkspaceError


def test_a_saved_query_survives_reopening_the_library(make_workspace, tmp_path):
    session = Session()
    terms = (
        text_term("a dog barking", 0.7),
        file_term(str(tmp_path / "bark.wav"), Modality.AUDIO, 1.4),
        item_term(12, Modality.VISION, "dog.jpg", "/photos/dog.jpg", 0.5),
        selection_term(list(range(30, 1030)), Modality.VISION, 0.9),
    )
    session.query.replace(*terms)
    session.filters.set(under="/photos", glob="*.jpg", since=1.6e9, modalities=("vision",), min_score=0.2)
    chosen = session.filters.value
    workspace = make_workspace()
    session.saved.load(workspace.save_query("dogs", session.saved.current()))
    workspace.save_query("other", {"version": 1, "terms": [], "filter": {}})
    workspace.close()

    reopened = make_workspace()
    later = Session()
    later.show_summary(reopened.summary())
    assert later.saved.names == ("dogs", "other")
    later.saved.restore("dogs")
    assert later.query.terms == terms
    assert later.filters.value == chosen
    later.query.undo()  # restoring is one step of the history
    assert later.query.terms == ()
    assert reopened.forget_query("other") == {"dogs": later.saved.records["dogs"]}


def test_an_unreadable_record_is_refused_by_name_and_changes_nothing():
    session = Session()
    session.query.replace(text_term("cat"))
    session.saved.load({"broken": {"version": 1, "terms": [{"parts": []}], "filter": {}}, "newer": {"version": 9}})
    for name in ("broken", "newer", "absent"):
        with pytest.raises(SavedQueryError, match=name):
            session.saved.restore(name)
    assert session.query.terms == (text_term("cat"),)


def test_a_query_needs_a_name_and_json_data(make_workspace):
    workspace = make_workspace()
    with pytest.raises(WorkspaceError, match="name"):
        workspace.save_query("  ", {"version": 1})
    with pytest.raises(WorkspaceError, match="cannot be saved"):
        workspace.save_query("odd", {"value": object()})
    assert workspace.saved_queries() == {}


def test_a_deleted_query_leaves_the_library_and_undo_brings_it_back(make_workspace):
    workspace = make_workspace()
    session = Session()
    session.query.replace(text_term("cat"))
    session.saved.load(workspace.save_query("cats", session.saved.current()))
    record = session.saved.records["cats"]
    session.saved.forgotten("cats", workspace.forget_query("cats"))
    assert session.saved.names == () and workspace.saved_queries() == {}
    assert "Deleted the saved query “cats”" in session.message
    name, kept = session.saved.take_deleted()
    session.saved.load(workspace.save_query(name, kept))
    assert workspace.saved_queries() == {"cats": record} and session.saved.take_deleted() is None


def test_a_saved_query_is_renamed_in_the_library_and_never_over_another(make_workspace):
    workspace = make_workspace()
    workspace.save_query("cats", {"version": 1, "terms": [], "filter": {}})
    workspace.save_query("dogs", {"version": 1, "terms": [{}], "filter": {}})
    assert set(workspace.rename_query("cats", " felines ")) == {"felines", "dogs"}
    for old, new, reason in (("felines", "dogs", "already saved"), ("absent", "x", "no query"), ("dogs", " ", "name")):
        with pytest.raises(WorkspaceError, match=reason):
            workspace.rename_query(old, new)
    assert workspace.saved_queries()["dogs"] == {"version": 1, "terms": [{}], "filter": {}}
