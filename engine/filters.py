"""A filter's items as a search sees them: the vector rows and item ids it lets through, read once per library
generation and kept for the next searches with the same filter (a slider drag re-ranks without reading them)."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from engine.library import Filter, Library
from engine.search_index import Allowed

KEPT = 4  # filters kept: the current one and the few before it (toggling a condition back costs nothing)


class Filtering:
    """The ``Allowed`` rows of recent filters, by (model key, library generation, filter); thread-safe."""

    def __init__(self, kept: int = KEPT):
        self._kept = kept
        self._found: OrderedDict[tuple, Allowed] = OrderedDict()
        self._lock = threading.Lock()

    def allowed(self, library: Library, key: str, chosen: Filter) -> Allowed:
        modalities = [m for m in library.store_rows(key) if chosen.allows(m)]
        handle = (key, library.generation, chosen)
        with self._lock:
            found = self._found.get(handle)
            if found is not None:
                self._found.move_to_end(handle)
                return found
        rows, items = {}, []
        for modality in modalities:
            rows[modality], ids = library.filtered_rows(key, modality, chosen)
            items.append(ids)
        found = Allowed(rows, np.sort(np.concatenate(items)) if items else np.zeros(0, np.int64))
        with self._lock:
            self._found[handle] = found
            while len(self._found) > self._kept:
                self._found.popitem(last=False)
        return found

    def forget(self) -> None:
        with self._lock:
            self._found.clear()

    def mask(self, library: Library, key: str, chosen: Filter, ids: np.ndarray, modalities: np.ndarray) -> np.ndarray:
        """Which of ``ids`` (embedded items of these ``modalities``: the map's points) ``chosen`` lets through."""
        mask = np.ones(len(ids), bool)
        if chosen.modalities:
            mask &= np.isin(modalities, [m.value for m in chosen.modalities])
        if chosen.by_file:
            mask &= self.allowed(library, key, chosen).admits(ids)
        return mask
