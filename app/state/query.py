"""The query being composed: its terms with weights, and the history of what was searched; no Qt.

Every change goes through ``Query`` and is one step in its history, so back/forward (Ctrl+Z,
Ctrl+Shift+Z) walk through what was searched. Consecutive weight changes of one term (a slider
drag) are one step, and so are the terms a single action brings (a map selection, "use as query").
The composer's panes render ``terms`` after each ``changed``: they always show what was searched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from psygnal import Signal

from app.timecode import span
from engine.modality import Modality
from engine.workspace import Term

SELECTION_MEAN_OF = 500  # a search by a big map selection uses the mean of this many of its items


@dataclass(frozen=True)
class QueryTerm:
    """What one pane entry stands for: engine terms of unit weight (a selection has many), its weight, and the
    name and source the panes show."""

    parts: tuple[Term, ...]
    weight: float
    modality: Modality
    name: str
    source: str

    def engine_terms(self) -> list[Term]:
        """The engine's terms: this entry's weight shared among its parts (a selection searches by its mean)."""
        share = self.weight / len(self.parts)
        return [replace(part, weight=share) for part in self.parts]


def text_term(text: str, weight: float = 1.0) -> QueryTerm:
    return QueryTerm((Term.text(text),), weight, Modality.TEXT, f"“{text}”", text)


def file_term(path: str, modality: Modality, weight: float = 1.0) -> QueryTerm:
    return QueryTerm((Term.file(path, 1.0, modality),), weight, modality, Path(path).name, path)


def item_term(item_id: int, modality: Modality, name: str, source: str, weight: float = 1.0) -> QueryTerm:
    return QueryTerm((Term.item(item_id),), weight, modality, name, source)


def moment_term(
    item_id: int, modality: Modality, name: str, source: str, start: float, end: float, weight: float = 1.0
) -> QueryTerm:
    """One window of a long recording, shown as "long.wav at 23:00.0–23:06.0": it searches by that window alone."""
    return QueryTerm((Term.moment(item_id, start, end),), weight, modality, f"{name} at {span(start, end)}", source)


def selection_term(ids: list[int], modality: Modality, weight: float = 1.0) -> QueryTerm:
    """A map selection as one term: the mean of (an even sample of at most ``SELECTION_MEAN_OF`` of) its items."""
    step = max(1, -(-len(ids) // SELECTION_MEAN_OF))
    parts = tuple(Term.item(i) for i in ids[::step])
    noun = "item" if len(ids) == 1 else "items"
    source = f"{len(ids):,} items on the map" + (
        f" (the search uses the mean of an even sample of {len(parts):,} of them)" if step > 1 else ""
    )
    return QueryTerm(parts, weight, modality, f"Selection of {len(ids):,} {noun}", source)


class Query:
    """The terms, and the history of term lists searched; ``changed`` carries the new terms."""

    changed = Signal(tuple)
    history_changed = Signal()

    def __init__(self):
        self._history: list[tuple[QueryTerm, ...]] = [()]
        self._at = 0
        self._coalesce: object = None

    @property
    def terms(self) -> tuple[QueryTerm, ...]:
        return self._history[self._at]

    def can_undo(self) -> bool:
        return self._at > 0

    def can_redo(self) -> bool:
        return self._at < len(self._history) - 1

    def set_terms(self, terms: tuple[QueryTerm, ...] | list[QueryTerm], coalesce: object = None) -> None:
        """Make ``terms`` the query: a new step, or the same step again when ``coalesce`` names the last change."""
        terms = tuple(terms)
        if terms == self.terms:
            return
        if coalesce is not None and coalesce == self._coalesce and self._at > 0:
            self._history[self._at] = terms
        else:
            del self._history[self._at + 1 :]
            self._history.append(terms)
            self._at += 1
        self._coalesce = coalesce
        self._emit()

    def add(self, *terms: QueryTerm) -> None:
        self.set_terms(self.terms + terms)

    def replace(self, *terms: QueryTerm) -> None:
        self.set_terms(terms)

    def remove(self, index: int) -> None:
        self.set_terms(self.terms[:index] + self.terms[index + 1 :])

    def remove_last(self) -> None:
        if self.terms:
            self.remove(len(self.terms) - 1)

    def clear(self) -> None:
        self.set_terms(())

    def set_weight(self, index: int, weight: float) -> None:
        """A slider moved: consecutive moves of one term's slider are one step of the history."""
        old = self.terms[index]
        new = replace(old, weight=round(weight, 2))
        self.set_terms((*self.terms[:index], new, *self.terms[index + 1 :]), coalesce=("weight", index))

    def seal(self) -> None:
        """The drag ended: the next change is a new step even if it moves the same slider."""
        self._coalesce = None

    def undo(self) -> None:
        if self.can_undo():
            self._at -= 1
            self._coalesce = None
            self._emit()

    def redo(self) -> None:
        if self.can_redo():
            self._at += 1
            self._coalesce = None
            self._emit()

    def _emit(self) -> None:
        self.changed.emit(self.terms)
        self.history_changed.emit()
