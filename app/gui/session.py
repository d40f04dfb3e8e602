"""What the desktop app holds open: one library and one model, and the engine calls it makes on them.

Plain Python, no Qt: every method runs on the engine thread (``worker.py``) and returns plain
data for the window to show. Nothing here is called from the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.indexer import EmbedReport, ScanReport, embed_pending, scan
from engine.library import Item, Library
from engine.modality import Modality
from engine.models.factory import LoadedModel, fetch_weights, load_model
from engine.models.zoo import ModelEntry, default_entry, resolve
from engine.projection import MapMaker, Projection, cluster, name_clusters, place
from engine.prompts import ZERO_SHOT_TEMPLATES
from engine.query import Embedded, QueryError, Results, Searcher, Term

Cancelled = Callable[[], bool]
Progress = Callable[..., None]


@dataclass
class RootSummary:
    id: int
    path: str
    counts: dict[str, dict[str, int]]  # modality -> status -> n


@dataclass
class LibrarySummary:
    folder: str
    model: str | None
    roots: list[RootSummary]
    totals: dict[str, dict[str, int]]
    failed: list[Item]
    labels: list[str]

    @property
    def embedded(self) -> int:
        return sum(row.get("embedded", 0) for row in self.totals.values())


@dataclass
class ResultCard:
    item: Item
    score: float


@dataclass
class SearchOutcome:
    cards: list[ResultCard]
    vector: np.ndarray
    terms: list[Embedded]
    map_point: tuple[float, float] | None = None
    probabilities: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class MapData:
    projection: Projection
    items: dict[int, Item]
    clusters: np.ndarray | None = None
    cluster_names: dict[int, list[tuple[str, float]]] = field(default_factory=dict)


class Session:
    def __init__(self):
        self.library: Library | None = None
        self.model: LoadedModel | None = None
        self._searcher: Searcher | None = None
        self._map: Projection | None = None
        self._map_vectors: np.ndarray | None = None
        self._map_model: str | None = None

    # -- model ------------------------------------------------------------------------------

    def load_model(
        self,
        name: str | None,
        device: str = "auto",
        progress: Progress | None = None,
        cancelled: Cancelled = lambda: False,
    ) -> LoadedModel | None:
        """Load the chosen model (downloading it when asked for by name); None when no model is usable."""
        entry: ModelEntry | None = resolve(name) if name else default_entry()
        if entry is None:
            self.model = None
            return None
        if not entry.available and entry.downloadable:
            fetch_weights(entry, progress=progress, cancelled=cancelled)
        self.model = load_model(entry, device=device)
        self._searcher, self._map, self._map_vectors, self._map_model = None, None, None, None
        return self.model

    def needs_embedding(self) -> bool:
        """Whether the open library has items the current model has not embedded (new items, or a new model)."""
        if self.library is None or self.model is None or not self.library.roots():
            return False
        return self.library.model != self.model.name or bool(self.library.items(status="pending"))

    # -- library ----------------------------------------------------------------------------

    def open_library(self, folder: str | Path) -> LibrarySummary:
        """Open (or create) a library; the one open before stays open if this fails."""
        library = Library(folder)
        if self.library is not None:
            self.library.close()
        self.library = library
        self._searcher, self._map, self._map_vectors, self._map_model = None, None, None, None
        return self.summary()

    def summary(self) -> LibrarySummary:
        library = self._require_library()
        roots = [RootSummary(r.id, r.path, _nest(library.counts(r.id))) for r in library.roots()]
        return LibrarySummary(
            str(library.folder),
            library.model,
            roots,
            _nest(library.counts()),
            library.items(status="failed"),
            library.labels,
        )

    def add_folder(
        self, folder: str | Path, progress: Progress | None = None, cancelled: Cancelled = lambda: False
    ) -> ScanReport:
        return scan(self._require_library(), folder, progress, cancelled)

    def rescan(self, progress: Progress | None = None, cancelled: Cancelled = lambda: False) -> ScanReport:
        return scan(self._require_library(), None, progress, cancelled)

    def remove_root(self, root_id: int) -> LibrarySummary:
        self._require_library().remove_root(root_id)
        return self.summary()

    def embed(self, progress: Progress | None = None, cancelled: Cancelled = lambda: False) -> EmbedReport:
        if self.model is None:
            raise QueryError("no model is loaded: choose one in Settings")
        return embed_pending(self._require_library(), self.model, progress, cancelled)

    def set_labels(self, labels: list[str]) -> list[str]:
        library = self._require_library()
        library.set_labels(labels)
        return library.labels

    # -- queries ----------------------------------------------------------------------------

    def searcher(self) -> Searcher:
        library = self._require_library()
        if self._searcher is None or (self.model and self._searcher.model_name != self.model.name):
            self._searcher = Searcher(library, self.model)
        return self._searcher

    def search(self, terms: list[Term], k: int, modalities: list[Modality] | None, labels: list[str]) -> SearchOutcome:
        """Results as cards, where the query sits on the map, and zero-shot probabilities for it."""
        library = self._require_library()
        searcher = self.searcher()
        results: Results = searcher.search(terms, k, modalities)
        # Each modality's nearest: a merged list would show little but the query's own modalities,
        # which always score highest (the modality gap). Other modalities come first, best match first.
        own = {e.modality for e in results.terms}
        groups = sorted(
            (hits for hits in results.by_modality.values() if hits),
            key=lambda hits: (hits[0].modality in own, -hits[0].score),
        )
        hits = [h for group in groups for h in group]
        items = {i.id: i for i in library.items(ids=[h.item_id for h in hits])}
        cards = [ResultCard(items[h.item_id], h.score) for h in hits if h.item_id in items]
        point = None
        if self._map is not None and self._map_model == searcher.model_name and len(self._map):
            point = tuple(float(v) for v in place(results.vector, self._map, self._map_vectors))
        probabilities = []
        if labels and self.model is not None:
            probabilities = searcher.classify(composed(results), labels, ZERO_SHOT_TEMPLATES)
        return SearchOutcome(cards, results.vector, results.terms, point, probabilities)

    def neighbours(self, item_id: int, k: int, modalities: list[Modality] | None, labels: list[str]) -> SearchOutcome:
        return self.search([Term.item(item_id)], k, modalities, labels)

    def mean_of(
        self, item_ids: list[int], k: int, modalities: list[Modality] | None, labels: list[str]
    ) -> SearchOutcome:
        """Search by the mean of a map selection (each item weighted equally)."""
        return self.search([Term.item(i, 1.0 / len(item_ids)) for i in item_ids], k, modalities, labels)

    def items(self, ids: list[int]) -> list[Item]:
        return self._require_library().items(ids=ids)

    # -- the map ----------------------------------------------------------------------------

    def compute_map(
        self, on_preview: Callable[[MapData], None], clusters: str | None = None, cancelled: Cancelled = lambda: False
    ) -> MapData | None:
        library = self._require_library()
        model_name = library.model
        if not model_name:
            return None
        ids, modalities, vectors, _ = library.embeddings(model_name)
        if not len(ids):
            return None
        items = {i.id: i for i in library.items(ids=ids.tolist())}
        maker = MapMaker(library.cache_dir, model_name, apart=True)  # UMAP holds the GIL
        projection = maker.compute(
            ids, modalities, vectors, library.state(model_name), on_preview=lambda p: on_preview(MapData(p, items))
        )
        self._map, self._map_vectors, self._map_model = projection, vectors, model_name
        data = MapData(projection, items)
        if clusters:
            data.clusters = cluster(vectors, clusters)
            if library.labels and self.model is not None:
                label_vectors, _ = self.searcher().label_embeddings(library.labels)
                data.cluster_names = name_clusters(vectors, data.clusters, label_vectors, library.labels)
        return data

    def _require_library(self) -> Library:
        if self.library is None:
            raise QueryError("no library is open: create or open one from the File menu")
        return self.library

    def close(self) -> None:
        if self.library is not None:
            self.library.close()
            self.library = None


def composed(results: Results) -> Embedded:
    """The composed query as one embedding for zero-shot labels; its scale is the terms' weighted mean scale."""
    weights = np.abs([e.term.weight for e in results.terms])
    scale = float(np.dot(weights, [e.scale for e in results.terms]) / max(weights.sum(), 1e-9))
    first = results.terms[0]
    return Embedded(first.term, results.vector, scale, first.modality)


def _nest(counts: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    nested: dict[str, dict[str, int]] = {}
    for (modality, status), number in counts.items():
        nested.setdefault(modality, {})[status] = number
    return nested
