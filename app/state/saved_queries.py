"""Named queries kept with the library: the terms with their weights and the filters, saved under a name and
restored as one step of the query's history; no Qt.

A record is plain JSON data (the engine stores it in the library's settings as given), so a saved query survives
reopening the library on another machine. A record that cannot be read back (edited by hand, written by a newer
version) is refused with its name and the reason, and never touches the current query.
"""

from __future__ import annotations

from dataclasses import asdict, fields

from psygnal import Signal

from app.state.query import QueryTerm
from engine.modality import Modality
from engine.workspace import Filter, Term

VERSION = 1


class SavedQueryError(ValueError):
    """A saved query that cannot be restored; the message names it and says why."""


def record_of(terms: tuple[QueryTerm, ...], chosen: Filter) -> dict:
    """The query and filters as JSON data."""
    return {
        "version": VERSION,
        "terms": [
            {
                "parts": [{"kind": p.kind, "value": p.value, "modality": _name(p.modality)} for p in term.parts],
                "weight": term.weight,
                "modality": term.modality.value,
                "name": term.name,
                "source": term.source,
            }
            for term in terms
        ],
        "filter": {**asdict(chosen), "modalities": [m.value for m in chosen.modalities]},
    }


def restored(name: str, record: dict) -> tuple[tuple[QueryTerm, ...], dict]:
    """(terms, filter conditions) of a record; ``SavedQueryError`` naming the query when it cannot be read."""
    try:
        if record.get("version") != VERSION:
            raise ValueError(f"it was saved in format {record.get('version')!r}, this version reads {VERSION}")
        terms = tuple(
            QueryTerm(
                tuple(Term(p["kind"], p["value"], 1.0, _modality(p["modality"])) for p in term["parts"]),
                float(term["weight"]),
                Modality(term["modality"]),
                str(term["name"]),
                str(term["source"]),
            )
            for term in record["terms"]
        )
        if any(not term.parts or part.kind not in ("item", "file", "text") for term in terms for part in term.parts):
            raise ValueError("a term has no parts or an unknown kind")
        known = {f.name for f in fields(Filter)}
        conditions = {key: value for key, value in record["filter"].items() if key in known}
        conditions["modalities"] = tuple(Modality(m) for m in conditions.get("modalities", ()))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise SavedQueryError(f"the saved query {name!r} cannot be restored: {error}") from error
    return terms, conditions


def _name(modality: Modality | None) -> str | None:
    return modality.value if modality is not None else None


def _modality(value: str | None) -> Modality | None:
    return Modality(value) if value is not None else None


class SavedQueries:
    """The library's saved queries as the session knows them; ``changed`` carries the names, sorted."""

    changed = Signal(tuple)
    undo_changed = Signal(str)  # the name Undo delete would bring back, or "" when there is none

    def __init__(self, session):
        self._session = session
        self.records: dict[str, dict] = {}
        self.deleted: tuple[str, dict] | None = None  # the last query deleted, which Undo saves again

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.records, key=str.casefold))

    def load(self, records: dict[str, dict]) -> None:
        """What the library holds (on opening it, and after each save)."""
        self.records = dict(records)
        self.changed.emit(self.names)

    def current(self) -> dict:
        """The record of the session's query and filters now, to save."""
        return record_of(self._session.query.terms, self._session.filters.value)

    def restore(self, name: str) -> None:
        """Make the saved query current: its terms (one step back undoes it) and its filters."""
        if name not in self.records:
            raise SavedQueryError(f"no query named {name!r} is saved with this library")
        terms, conditions = restored(name, self.records[name])
        self._session.filters.set(**conditions)
        self._session.query.replace(*terms)

    def forgotten(self, name: str, remaining: dict[str, dict]) -> None:
        """The library no longer holds ``name`` (``remaining`` is what it holds): remember it for Undo delete."""
        if name in self.records:
            self.deleted = (name, self.records[name])
            self.undo_changed.emit(name)
        self.load(remaining)
        self._session.say(f"Deleted the saved query “{name}” (Query ▸ Saved queries ▸ Undo delete brings it back)")

    def take_deleted(self) -> tuple[str, dict] | None:
        """The last deleted query (name, record), to save again; it can be brought back once."""
        deleted, self.deleted = self.deleted, None
        if deleted is not None:
            self.undo_changed.emit("")
        return deleted
