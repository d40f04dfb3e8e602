"""The query and its history without a window."""

from __future__ import annotations

from app.state.query import SELECTION_MEAN_OF, Query, file_term, selection_term, text_term
from engine.modality import Modality


def names(query: Query) -> list[str]:
    return [t.name for t in query.terms]


def test_undo_and_redo_walk_three_query_changes():
    query = Query()
    seen = []
    query.changed.connect(lambda terms: seen.append([t.name for t in terms]))
    query.add(text_term("dog"))
    query.add(file_term("/x/bell.wav", Modality.AUDIO))
    query.replace(text_term("rain"))
    query.undo()
    assert names(query) == ["“dog”", "bell.wav"]
    query.undo()
    query.undo()
    assert names(query) == [] and not query.can_undo()
    query.redo()
    query.redo()
    query.redo()
    assert names(query) == ["“rain”"] and not query.can_redo()
    assert seen[-1] == ["“rain”"]


def test_a_slider_drag_is_one_step_and_a_new_drag_is_another():
    query = Query()
    query.add(text_term("dog"), text_term("cat"))
    for weight in (0.9, 0.7, 0.5, 0.3):
        query.set_weight(1, weight)
    query.seal()
    query.set_weight(1, -0.2)
    assert query.terms[1].weight == -0.2
    query.undo()
    assert query.terms[1].weight == 0.3
    query.undo()
    assert query.terms[1].weight == 1.0


def test_a_new_change_after_undo_drops_the_redo_branch():
    query = Query()
    query.add(text_term("dog"))
    query.add(text_term("cat"))
    query.undo()
    query.add(text_term("bell"))
    assert names(query) == ["“dog”", "“bell”"] and not query.can_redo()


def test_a_map_selection_is_one_named_term_searching_by_its_mean():
    ids = list(range(197))
    term = selection_term(ids, Modality.VISION, 0.5)
    assert term.name == "Selection of 197 items"
    parts = term.engine_terms()
    assert len(parts) == 197 and abs(sum(p.weight for p in parts) - 0.5) < 1e-9
    big = selection_term(list(range(1_000_000)), Modality.VISION)
    assert big.name == "Selection of 1,000,000 items" and len(big.engine_terms()) <= SELECTION_MEAN_OF
    assert term.source == "197 items on the map"  # what a sample leaves out is said, not hidden
    assert big.source == "1,000,000 items on the map (the search uses the mean of an even sample of 500 of them)"
