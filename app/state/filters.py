"""The filters the search, the browse view and the map share: one engine ``Filter`` with events; no Qt.

The filter bar edits it, and everything that shows items listens to ``changed``: the session asks for the current
search again, a browse view re-pages, the map dims what is filtered out. A change that leaves no item able to
match (since after until, a score outside -1..1) is refused with the reason instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path

from psygnal import Signal

from app.state.jobs import Job, Lane
from engine.modality import Modality
from engine.workspace import Filter, SearchOutcome, Term, Workspace


class Filters:
    """The current ``Filter``; ``changed`` carries the new one after each change that changes it."""

    changed = Signal(object)

    def __init__(self):
        self.value = Filter()

    def set(self, **changes) -> None:
        """Change some conditions (``under``, ``glob``, ``since``, ``until``, ``modalities``, ``min_score``)."""
        chosen = replace(self.value, **changes)
        if chosen.since is not None and chosen.until is not None and chosen.since >= chosen.until:
            raise ValueError("the start date is after the end date: no file can match")
        if chosen.min_score is not None and not -1.0 <= chosen.min_score <= 1.0:
            raise ValueError("a score is a cosine similarity, from -1 to 1")
        chosen = replace(
            chosen,
            under=chosen.under or None,
            glob=chosen.glob or None,
            modalities=tuple(Modality.parse(m) for m in chosen.modalities),
        )
        if chosen != self.value:
            self.value = chosen
            self.changed.emit(chosen)

    def clear(self) -> None:
        self.set(**{f.name: f.default for f in fields(Filter)})

    @property
    def active(self) -> bool:
        return self.value != Filter()

    def describe(self, full: bool = False) -> str:
        """The conditions in a few words, for a tooltip or a results title ("" when none); ``full`` names the
        whole folder, not its last part (an exported record)."""
        value, words = self.value, []
        if value.under:
            words.append(f"under {value.under if full else Path(value.under).name or value.under}")
        if value.glob:
            words.append(f"matching {value.glob}")
        if value.since is not None:
            words.append(f"from {_day(value.since)}")
        if value.until is not None:
            words.append(f"before {_day(value.until)}")
        if value.modalities:
            words.append(" or ".join(m.value for m in value.modalities))
        if value.min_score is not None:
            words.append(f"score ≥ {value.min_score:.2f}")
        return ", ".join(words)


def _day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class SearchRequest:
    """Everything one search asks: the query's engine terms, k, the modalities shown, the zero-shot labels, the
    filter and whether it looks for moments, fixed when asked (the job never reads the session from its thread)."""

    terms: tuple[Term, ...]
    k: int
    modalities: tuple[Modality, ...]
    labels: tuple[str, ...]
    filter: Filter = field(default_factory=Filter)
    moments: bool = False  # the best windows of long recordings instead of whole files


class SearchJob(Job):
    """A search as a typed job in the "search" slot: a newer search replaces it while it waits, and only the newest
    reports; ``returned`` carries its ``SearchOutcome``."""

    def __init__(self, workspace: Workspace, request: SearchRequest):
        super().__init__("search", self._search, "", Lane.QUICK)
        self.workspace, self.request = workspace, request

    def _search(self, job: Job) -> SearchOutcome:
        request = self.request
        return self.workspace.search(
            list(request.terms),
            request.k,
            list(request.modalities) or None,
            list(request.labels),
            request.filter,
            request.moments,
        )
