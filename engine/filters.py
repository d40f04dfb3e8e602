"""A filter's items as a search and the map see them, read once per library generation and kept for the next
searches with the same filter (a slider drag re-ranks without reading them again).

A search finds the items a filter lets through in one of two ways, per modality. A narrow filter (at most
``INSIDE_UP_TO`` items, or under ``WALK_FROM`` of the modality's vectors) is searched inside the index: the
vector rows of its items are read (by the path or date index, then their embeddings) and only those are
ranked. A broad one would read hundreds of thousands of rows to leave out a few: the usual ranking is walked
instead, further and further until k of the items found pass; with at least one item in ``1 / WALK_FROM``
passing, that needs about ``k * WALK_FROM`` candidates at most.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import partial

import numpy as np

from engine.library import Filter, Library
from engine.search_index import Allowed

INSIDE_UP_TO = 20_000
WALK_FROM = 50
KEPT = 4  # filters kept: the current one and the few before it (toggling a condition back costs nothing)


class Filtering:
    """The narrow modalities' rows and the item ids of recent filters, by (model key, library generation, filter);
    shared by the threads of one workspace."""

    def __init__(self, kept: int = KEPT):
        self._kept = kept
        self._found: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def _cached(self, handle: tuple, make):
        with self._lock:
            if handle in self._found:
                self._found.move_to_end(handle)
                return self._found[handle]
        found = make()
        with self._lock:
            self._found[handle] = found
            while len(self._found) > self._kept:
                self._found.popitem(last=False)
        return found

    def allowed(self, library: Library, key: str, chosen: Filter) -> Allowed:
        """What a search with ``chosen`` may return; its check of the items found runs on ``library`` (this thread's
        connection)."""

        def read() -> tuple[dict, dict]:
            stored, counts = library.store_rows(key), library.counts_matching(chosen)
            shares = {m: counts.get(m, 0) / rows for m, rows in stored.items() if chosen.allows(m) and rows}
            inside = {
                modality: library.filtered_rows(key, modality, chosen) if share else np.zeros(0, np.int64)
                for modality, share in shares.items()
                if counts.get(modality, 0) <= INSIDE_UP_TO or share <= 1 / WALK_FROM
            }
            return inside, shares

        rows, shares = self._cached(("rows", key, library.generation, chosen), read)
        return Allowed(rows, partial(library.passing, chosen), shares)

    def mask(self, library: Library, chosen: Filter, ids: np.ndarray, modalities: np.ndarray) -> np.ndarray:
        """Which of ``ids`` (items of these ``modalities``: the map's points) ``chosen`` lets through."""
        mask = np.ones(len(ids), bool)
        if chosen.modalities:
            mask &= np.isin(modalities, [m.value for m in chosen.modalities])
        if chosen.by_file:
            passing = self._cached(("ids", library.generation, chosen), lambda: library.ids_matching(chosen))
            if not len(passing):
                return np.zeros(len(ids), bool)
            mask &= passing[np.minimum(np.searchsorted(passing, ids), len(passing) - 1)] == ids
        return mask

    def forget(self) -> None:
        with self._lock:
            self._found.clear()
