"""The application layer: one open library and its model, and every action the app and the command line offer.

Both interfaces are thin views over a ``Workspace`` (as napari's Qt widgets are over its
``components``): open or create a library, choose its model, index (scan and embed, with
progress and cancel), import and export embeddings, re-embed with another model, move a root,
search, classify, map and place a query on the map. Policy lives here, once:

* **A library keeps its model.** Opening a library uses the model it records (name and
  fingerprint), never silently another. When that model's weights are not on this machine the
  library still opens: everything that works from stored vectors works (search by items, the
  map, clusters, zero-shot with stored label vectors); what needs the model (a text or file
  query, indexing) raises ``ModelMissing``, which says which model and how to get it.
* **Changing the model is explicit** (``reembed``): the new model's vectors are built beside
  the old ones, which keep serving searches until the new set is complete.
* **Offline is not failed**: files on a missing drive keep their items and embeddings.

Long jobs (indexing, import, re-embedding) open their own connection to the library, so the
app can search from another thread while they run; they keep the search index current as
each batch is committed. Nothing here imports Qt, and nothing loads the model until it is needed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.exchange import ExchangeError, ImportReport, export, import_embeddings
from engine.filters import Filtering
from engine.indexer import (
    Backend,
    BackendError,
    EmbedReport,
    InProcess,
    ScanReport,
    embed_items,
    embed_pending,
    online,
    scan,
)
from engine.library import EMBEDDED, FAILED, PENDING, STATUSES, Filter, Item, Library, LibraryError, Listing
from engine.library.files import display, under
from engine.library.items import ORDERS
from engine.library.lock import EMBEDDING, exclusive
from engine.library.rows import BUSY, LibraryBusy
from engine.modality import Modality
from engine.models.download import DownloadError
from engine.models.errors import RuntimeUnavailable, WeightsError
from engine.models.handle import ModelHandle
from engine.models.identity import ModelRef
from engine.models.zoo import ModelEntry, ModelUnavailable, default_entry, resolve
from engine.preprocess.detect import VIDEO_EXTENSIONS, detect_modality
from engine.preprocess.windows import HOP_FRACTION, SEGMENTED
from engine.previews import THUMBNAIL, Preview, make_preview
from engine.progress import Cancelled, Progress, never
from engine.projection import MapMaker, Projection, name_clusters
from engine.prompts import ZERO_SHOT_TEMPLATES
from engine.query import Embedded, ModelMissing, Moment, NoSuchMoment, QueryError, Results, Searcher, Term, TermCache
from engine.search_index import APPROXIMATE_FROM, Hit, SearchIndex
from engine.train.pairs import PairsError
from engine.vectors import VectorStoreError

if TYPE_CHECKING:
    from engine.encoder import Encoder
    from engine.models.factory import LoadedModel


class WorkspaceError(Exception):
    """An action that cannot be done as asked; the message says why and what to do instead."""


# What a person is told in one line (the command line's exit 2, the app's status bar); anything else is a bug.
USER_ERRORS = (
    WorkspaceError,
    BackendError,
    LibraryError,
    QueryError,
    ExchangeError,
    VectorStoreError,
    WeightsError,
    ModelUnavailable,
    DownloadError,
    RuntimeUnavailable,
    PairsError,
)


def explain(error: BaseException) -> tuple[str, str]:
    """(kind, one line for a person) for an error that stopped an action, in the app and the command line alike."""
    kind = type(error).__name__
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return "DiskFull", f"the disk is full ({error.filename or 'writing'}); what was committed before is kept"
    if isinstance(error, OSError):
        return kind, f"{error.filename + ': ' if error.filename else ''}{error.strerror or error}"
    if isinstance(error, sqlite3.OperationalError) and "full" in str(error):
        return "DiskFull", f"the disk is full ({error}); what was committed before is kept"
    if isinstance(error, sqlite3.OperationalError) and str(error) in BUSY:
        return "LibraryBusy", str(LibraryBusy("the library"))
    if isinstance(error, sqlite3.DatabaseError):
        return "LibraryError", f"the library database is damaged or unusable ({error})"
    if isinstance(error, USER_ERRORS):
        return kind, str(error)
    return kind, f"unexpected {kind}: {error}"


# -- what needs no library: models, the demo world, training, previews, shards for elsewhere ------------


def models() -> list[ModelEntry]:
    """Every model this installation knows, downloaded or not."""
    from engine.models.zoo import entries

    return entries()


def active_model() -> ModelEntry | None:
    """The model a new library embeds with when none is asked for: the best one on this machine."""
    return default_entry()


def find_model(name: str) -> ModelEntry:
    """A model by name or checkpoint path."""
    return resolve(name)


def download_model(name: str, progress: Progress | None = None, cancelled: Cancelled = never):
    """Fetch a model's weights into the user cache (resumable); returns its entry and where the weights are."""
    from engine.models.factory import fetch_weights

    entry = resolve(name)
    return entry, fetch_weights(entry, progress=progress, cancelled=cancelled)


def demo_gallery(out: str | Path, per_concept: int = 8, seed: int = 0) -> int:
    """Write a gallery of the synthetic demo world (six files a scene) under ``out``; returns how many scenes."""
    from engine.demo.world import generate

    return len(generate(out, per_concept, seed=seed))


def train_bind(
    base: str,
    modality: Modality,
    pairs: str | Path,
    out: str | Path,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    val_fraction: float,
    checkpoint: str | Path | None,
    device: str,
    log: Callable[[str], None],
):
    """Bind (or fine-tune) ``modality``'s encoder of ``base`` to its frozen image encoder on (image, X) pairs."""
    from engine.train.bind import bind
    from engine.train.trainer import BindSettings

    settings = BindSettings(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    return bind(
        base, modality, pairs, out, settings, val_fraction=val_fraction, checkpoint=checkpoint, device=device, log=log
    )


def train_demo(work: str | Path, out: str | Path | None, seed: int, log: Callable[[str], None]):
    """Reproduce the shipped demo model from a freshly generated demo world (into the shipped model's
    folder unless ``out`` is given); returns its evaluation report."""
    from engine.demo.recipe import RecipeSettings, train_demo_model
    from engine.models.zoo import DEMO

    return train_demo_model(work, out or DEMO.weights_path.parent, RecipeSettings(seed=seed), log=log)


def preview(source: str, modality: Modality, size: int = THUMBNAIL) -> Preview:
    """What a result card or the map shows of a file or text (a thumbnail, a waveform, channels); ``size``: the
    longest side of a picture (a large preview asks for more)."""
    return make_preview(source, modality, size)


def embed_shards(
    paths: list[str | Path],
    model: str,
    out: str | Path,
    cluster: RayCluster,
    strip_prefix: str | None = None,
    prefix: str | None = None,
    progress: Progress | None = None,
    batch_size: int | None = None,
):
    """Embed files as a Ray cluster's workers see them into Parquet shards, for a library elsewhere."""
    from engine.cluster import embed_shards

    return embed_shards(
        paths,
        model,
        out,
        cluster.address,
        strip_prefix=strip_prefix,
        prefix=prefix,
        progress=progress,
        batch_size=batch_size,
        actors=cluster.actors,
        shard_size=cluster.shard_size,
    )


@dataclass(frozen=True)
class RayCluster:
    """Index on a Ray cluster instead of in this process: ``address`` is ``local`` (start one here), ``auto`` (the
    cluster this machine belongs to) or ``ray://host:port``; the shards go to ``shards`` (default: in the library).
    Ray is imported only when a job runs with this backend: the desktop app never loads it."""

    address: str
    shards: str | Path | None = None
    actors: int | None = None
    shard_size: int | None = None


@dataclass
class ModelState:
    """The library's model and whether it can run here."""

    ref: ModelRef | None  # None: the library has no model yet (nothing embedded)
    available: bool
    message: str  # what a person reads: the model, or what is missing and how to get it
    downloadable: bool = False


@dataclass
class RootSummary:
    id: int
    path: str
    state: str  # "online", "missing", "unreadable" or "unmounted" (engine.library.files.folder_state)
    counts: dict[str, dict[str, int]]  # modality -> status -> n
    offline: int  # items whose file is gone (or all of them, when the folder is not online)


@dataclass
class LibrarySummary:
    folder: str
    model: ModelState
    roots: list[RootSummary]
    totals: dict[str, dict[str, int]]
    failed: int
    offline: int
    labels: list[str]
    read_only: bool
    generation: int
    reembedding: str | None = None  # the title of the model being built beside the current one
    outside: dict[str, dict[str, int]] = field(default_factory=dict)  # items in no folder (imported, typed)
    segments: dict[str, int] = field(default_factory=dict)  # moments held per modality (windows of long recordings)
    moments: bool = True  # whether indexing cuts long recordings into windows
    moments_hop: float = HOP_FRACTION  # their hop as a fraction of a window (files cut from when it was set)
    saved_queries: dict[str, dict] = field(default_factory=dict)  # name -> the app's record of a named query
    dates: tuple[float, float] | None = None  # the oldest and newest item's modification time (epoch seconds)
    moments_recut: int = 0  # files whose windows were cut with another hop: the next index cuts them again

    @property
    def embedded(self) -> int:
        return sum(row.get(EMBEDDED, 0) for row in self.totals.values())

    @property
    def pending(self) -> int:
        return sum(row.get(PENDING, 0) for row in self.totals.values())


@dataclass
class IndexReport:
    scan: ScanReport
    embed: EmbedReport | None
    model_name: str | None  # the library's model after the run (None: nothing embedded yet)


@dataclass
class SearchOutcome:
    results: Results
    items: dict[int, Item]
    map_point: tuple[float, float] | None = None
    probabilities: list[tuple[str, float]] = field(default_factory=list)
    offline: set[int] = field(default_factory=set)  # items whose file cannot be reached now
    moments: list[Moment] = field(default_factory=list)  # a moments search's hits: (item, start, end, score)

    def best_moments(self, item_id: int) -> list[Moment]:
        """A file hit's best windows, best first (none for a file without any, or beyond the first hits)."""
        return self.results.best.get(item_id, [])

    def cards(self) -> list[tuple[Item, float]]:
        """Each modality's nearest, the other modalities' groups first, best match first: a merged list would
        show little but the query's own modalities, which always score highest (the modality gap)."""
        own = {e.modality for e in self.results.terms}
        groups = sorted(
            (hits for hits in self.results.by_modality.values() if hits),
            key=lambda hits: (hits[0].modality in own, -hits[0].score),
        )
        return [(self.items[h.item_id], h.score) for group in groups for h in group if h.item_id in self.items]


@dataclass
class MapData:
    projection: Projection
    clusters: np.ndarray | None = None
    cluster_names: dict[int, list[tuple[str, float]]] = field(default_factory=dict)
    clusters_note: str = ""  # why the clustering found no cluster, when it found none

    def only(self, mask: np.ndarray) -> MapData:
        """The points ``mask`` keeps (a filtered map), with their clusters and the clusters' names."""
        p = self.projection
        kept = Projection(p.ids[mask], p.modalities[mask], p.coords[mask], p.method, p.generation)
        clusters = self.clusters[mask] if self.clusters is not None else None
        return MapData(kept, clusters, self.cluster_names, self.clusters_note)

    def to_json(self, paths: dict[int, str | None] | None = None) -> dict:
        """The map as plain JSON values: its method and one point per item (with its cluster, when clustered,
        and its path when ``paths`` gives them, so the map joins the export and search results by id or path)."""
        projection = self.projection
        points = [
            {
                "id": int(i),
                **({"path": paths.get(int(i))} if paths is not None else {}),
                "modality": str(m),
                "x": float(x),
                "y": float(y),
                **({"cluster": int(self.clusters[n])} if self.clusters is not None else {}),
            }
            for n, (i, m, (x, y)) in enumerate(
                zip(projection.ids, projection.modalities, projection.coords, strict=True)
            )
        ]
        return {"method": projection.method, "points": points}


@dataclass
class ReembedPlan:
    target: ModelRef
    items: int  # to embed with the new model
    offline: int  # waiting for their folder
    seconds: float  # estimated, from timing the new model on a few of the library's own items


@dataclass
class DroppedFile:
    """A file offered as a query term: its modality, or why it cannot be one."""

    path: str
    modality: Modality | None
    refusal: str | None = None
    item_id: int | None = None


class Workspace:
    def __init__(
        self,
        library: Library,
        *,
        model: str | None = None,
        default_model: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        approximate_from: int = APPROXIMATE_FROM,
    ):
        """``model``: for a library with no model yet, the one indexing will use; for a library that has one,
        where its checkpoint is (it must be the same model). ``default_model``: a preference that only applies
        to a library with no model yet (the app's setting); without either, the best available model."""
        self.folder = library.folder
        self._read_only = library.read_only
        self._connections = threading.local()
        self._connections.library = library
        self._opened = [library]
        self._opened_lock = threading.Lock()
        self.handle = ModelHandle(model, default_model, device, precision)
        self.approximate_from = approximate_from
        self._index: SearchIndex | None = None
        self._segments: SearchIndex | None = None
        self._maps: dict[str, MapMaker] = {}
        self.terms = TermCache()
        self.filtering = Filtering()

    @classmethod
    def open(cls, folder: str | Path, *, create: bool = False, **options) -> Workspace:
        return cls(Library(folder, create=create), **options)

    @property
    def library(self) -> Library:
        """This thread's connection to the library: the app calls the workspace from two threads, and one
        SQLite connection must not carry two threads' transactions (WAL lets the connections coexist)."""
        library = getattr(self._connections, "library", None)
        if library is None:
            library = Library(self.folder, read_only=self._read_only)
            self._connections.library = library
            with self._opened_lock:
                self._opened.append(library)
        return library

    def close(self) -> None:
        with self._opened_lock:
            for library in self._opened:
                library.close()
            self._opened.clear()

    # -- the model --------------------------------------------------------------------------

    def _entry(self) -> ModelEntry | None:
        """Where the library's model (or the requested one, for a new library) is found on this machine."""
        return self.handle.entry(self.library.model)

    def prefer_model(self, name: str | None) -> None:
        """The model a library with nothing embedded yet should take (a preference: the best available otherwise)."""
        self.handle.preferred = name

    def model_state(self) -> ModelState:
        ref = self.library.model
        try:
            entry = self._entry()
        except Exception as error:  # a broken checkpoint description: said, never raised from a status
            return ModelState(ref, False, str(error))
        if ref is None:
            if entry is None:
                return ModelState(None, False, "no model is available: `bindscope models download imagebind-huge`")
            if not entry.available:  # asked for by name: said, never swapped for another
                return ModelState(None, False, entry.missing, entry.downloadable)
            return ModelState(None, True, f"{entry.title} (new library)")
        if entry is None:
            downloadable = _downloadable(ref.name)
            return ModelState(ref, False, self._missing_hint(ref), downloadable)
        return ModelState(ref, True, ref.title)

    @staticmethod
    def _missing_hint(ref: ModelRef) -> str:
        """What a person reads when the library's model is not here: which one, and how to get it."""
        named = ref.title if _downloadable(ref.name) else f"{ref.title} ({display(ref.name)})"
        return f"{named} is not on this machine: {Workspace._how_to_get(ref)}"

    @staticmethod
    def _how_to_get(ref: ModelRef) -> str:
        if _downloadable(ref.name):
            return f"download it (Settings ▸ Model, or `bindscope models download {ref.name}`)"
        return "locate the checkpoint (Settings ▸ Model ▸ Locate, or --model PATH)"

    def loaded_model(self, what: str = "this") -> LoadedModel:
        """The library's network, loaded on first use; ``ModelMissing`` names the model when it cannot run here."""
        return self.handle.loaded(lambda: self._usable_entry(what))

    def _usable_entry(self, what: str) -> ModelEntry:
        """The library's model as found here, checked to be the very checkpoint the library was embedded with."""
        from engine.models.identity import ref_for_entry

        ref = self.library.model
        entry = self._entry()
        if entry is None or not entry.available:
            if ref is None:
                raise WorkspaceError(
                    entry.missing if entry else "no model is available: run `bindscope models download imagebind-huge`"
                )
            raise ModelMissing(ref, what, self._how_to_get(ref))
        found = ref_for_entry(entry)
        if ref is not None:
            if not ref.verified and ref.name == found.name and ref.dim == found.dim:
                ref = self.library.verify_model(found)
            if not ref.same_model(found):
                raise WorkspaceError(
                    f"{display(str(entry.weights_path))} is not the checkpoint this library was embedded with "
                    f"({ref.title}, fingerprint {ref.fingerprint[:12]}; this file: {found.fingerprint[:12]}). "
                    "Locate the right one, or re-embed the library with this model (`bindscope reembed`)."
                )
            if found.name != ref.name and not self.library.read_only:
                self.library.register_model(found)  # found under another path: remember where
        return entry

    def ref(self) -> ModelRef:
        """The library's model, or for a new library the one indexing will use (loading it)."""
        ref = self.library.model
        if ref is not None:
            return ref
        return self.loaded_model("indexing").ref

    def _encoder_for(self, what: str) -> Encoder:
        from engine.encoder import Encoder

        return self.handle.runner(self.loaded_model(what), Encoder)

    def locate_model(self, path: str | Path) -> LoadedModel:
        """Use the checkpoint at ``path`` as the library's model; it must be that very model (same fingerprint)."""
        self.handle.locate(path)
        return self.loaded_model("locating the model")

    def use_device(self, device: str) -> None:
        """Run the model on another device from now on (it is loaded again when next needed)."""
        self.handle.use_device(device)

    # -- what the library holds -------------------------------------------------------------

    def summary(self) -> LibrarySummary:
        library = self.library
        with library.snapshot():
            tally = library.tally()
            roots = library.roots()
            target = library.model_ref(library.get_meta("reembed_target"))
            unmounted = library.present_under(
                [m for m in library.offline_folders() if m not in {r.path for r in roots}]
            )
            key = library.key_of(library.model) if library.model is not None else None
            segments = {m.value: n for m, n in library.segment_counts(key).items()} if key else {}
            recut = library.recut_waiting(key) if key and library.moments else 0
        per_root: dict[int | None, dict[str, dict[str, int]]] = {}
        missing: dict[int | None, int] = {}
        totals: dict[str, dict[str, int]] = {}
        for row in tally:
            per_root.setdefault(row.root_id, {}).setdefault(row.modality, {})[row.status] = row.items
            totals.setdefault(row.modality, {}).setdefault(row.status, 0)
            totals[row.modality][row.status] += row.items
            missing[row.root_id] = missing.get(row.root_id, 0) + row.missing
        for root_id, count in unmounted.items():  # on a drive mounted inside a root, not mounted now
            missing[root_id] = missing.get(root_id, 0) + count
        summaries = []
        for root in roots:
            counts = per_root.get(root.id, {})
            state = root.state
            everything = sum(sum(row.values()) for row in counts.values())
            summaries.append(
                RootSummary(
                    root.id, root.path, state, counts, everything if state != "online" else missing.get(root.id, 0)
                )
            )
        return LibrarySummary(
            str(library.folder),
            self.model_state(),
            summaries,
            totals,
            sum(row.get(FAILED, 0) for row in totals.values()),
            sum(r.offline for r in summaries) + missing.get(None, 0),
            library.labels,
            library.read_only,
            library.generation,
            target.title if target else None,
            per_root.get(None, {}),
            segments,
            library.moments,
            library.moments_hop,
            library.saved_queries,
            library.date_range(),
            moments_recut=recut,
        )

    def failed(self, offset: int = 0, limit: int = 200) -> list[Item]:
        """A page of the failed items (a list of a million is never loaded at once)."""
        return self.library.items(status=FAILED, offset=offset, limit=limit)

    def items(self, ids: list[int]) -> list[Item]:
        return self.library.items(ids=ids)

    def item(self, id_or_path: int | str) -> Item | None:
        """A library item by id, or by its file's path."""
        if isinstance(id_or_path, int) or (isinstance(id_or_path, str) and id_or_path.isdigit()):
            return self.library.item(int(id_or_path))
        return self.library.item_by_path(id_or_path)

    def _offline_roots(self) -> list[int]:
        return [root.id for root in self.library.roots() if root.state != "online"]

    def ordered(self, ids: list[int], order: str = "path", descending: bool = False) -> list[int]:
        """An explicit set of items (a map selection) in ``order``, to page through in that order."""
        if order not in ORDERS:
            raise WorkspaceError(f"cannot sort by {order!r}: choose {', '.join(ORDERS)}")
        return self.library.ordered(ids, order, descending)

    def set_labels(self, labels: list[str]) -> list[str]:
        """Save the zero-shot labels with the library."""
        return self.library.set_labels(labels)

    def saved_queries(self) -> dict[str, dict]:
        """The named queries saved with the library (name -> record), so they survive reopening it."""
        return self.library.saved_queries

    def save_query(self, name: str, record: dict) -> dict[str, dict]:
        """Save a named query with the library (``record`` must be JSON data); returns every saved query."""
        try:
            json.dumps(record)
        except (TypeError, ValueError) as error:
            raise WorkspaceError(f"the query {name!r} cannot be saved: {error}") from error
        try:
            return self.library.save_query(name, record)
        except ValueError as error:
            raise WorkspaceError(str(error)) from error

    def forget_query(self, name: str) -> dict[str, dict]:
        """Remove a saved query; returns the ones left."""
        return self.library.forget_query(name)

    def rename_query(self, old: str, new: str) -> dict[str, dict]:
        """Give a saved query another name (not one already saved); returns every saved query."""
        try:
            return self.library.rename_query(old, new)
        except ValueError as error:
            raise WorkspaceError(str(error)) from error

    def embed_labels(self) -> int:
        """Embed the saved labels not embedded yet (the model must be here), so zero-shot works without it later."""
        labels = self.library.labels
        if not labels or self.library.model is None or not self.model_state().available:
            return 0
        self.searcher().label_embeddings(labels)
        return len(labels)

    # -- indexing -----------------------------------------------------------------------------

    def _writer(self, progress: Progress | None = None) -> Library:
        if self._read_only:
            raise LibraryError(f"{self.folder}: the library is read-only here; it can be searched but not changed")
        writer = Library(self.folder)
        writer.waiting = _waiting(progress, "an import into this library to finish (busy, not damaged)")
        return writer

    def index(
        self,
        paths: list[str | Path] | None = None,
        progress: Progress | None = None,
        cancelled: Cancelled = never,
        batch_size: int | None = None,
        backend: RayCluster | None = None,
        moments: bool | None = None,
        moments_hop: float | None = None,
        reduced_jpeg: bool = False,
    ) -> IndexReport:
        """Scan ``paths`` (new roots) or every root here, then embed what is pending with the library's model, in
        this process or on the Ray cluster ``backend`` names; then the windows of long recordings, unless moments
        are off. ``moments`` True or False also becomes the library's setting; None keeps it. ``moments_hop`` (a
        fraction of a window in (0, 1]) becomes the library's hop: files cut with another are cut again (each
        file's old windows replaced in the transaction that stores its new ones, so a killed run resumes).
        ``reduced_jpeg`` decodes JPEG pictures at a reduced size (``engine.preprocess.image``), in this process."""
        if moments_hop is not None and moments_hop != self.library.moments_hop:
            try:
                self.library.set_moments_hop(moments_hop)
            except ValueError as error:
                raise WorkspaceError(f"{self.folder}: {error}") from None
        if moments is not None and moments != self.library.moments:
            self.library.set_moments(moments)
        report = self.scan(paths, progress, cancelled)
        if cancelled():
            return IndexReport(report, None, None)
        embedded = self.embed(progress, cancelled, batch_size, backend, reduced_jpeg)
        report.warnings += embedded.warnings
        return IndexReport(report, embedded, self.library.model.name if self.library.model else None)

    def scan(self, paths=None, progress: Progress | None = None, cancelled: Cancelled = never) -> ScanReport:
        for path in paths or []:
            if not Path(path).is_dir():
                raise WorkspaceError(f"{display(os.fspath(path))}: not a folder")
        writer = self._writer(progress)
        try:
            report = ScanReport()
            for path in paths or [None]:
                if cancelled():
                    break
                report.merge(scan(writer, path, progress, cancelled))
            return report
        finally:
            writer.close()

    def embed(
        self,
        progress: Progress | None = None,
        cancelled: Cancelled = never,
        batch_size: int | None = None,
        backend: RayCluster | None = None,
        reduced_jpeg: bool = False,
    ) -> EmbedReport:
        """Embed every pending item with the library's model (a new library takes its first model here), then the
        windows of its long recordings not cut yet, when the library's moments are on."""
        if reduced_jpeg and backend is not None:
            raise WorkspaceError("reduced JPEG decoding runs in this process; Ray's workers decode every picture fully")
        if not self.library.count(PENDING) and not self._moments_to_cut():
            return EmbedReport()
        model = self.loaded_model("indexing")
        ref = self.ref()
        writer = self._writer(progress)
        try:
            with exclusive(writer.folder / EMBEDDING, _waiting(progress), cancelled) as held:
                if not held:
                    return EmbedReport(cancelled=True)
                adopted = writer.set_model(ref, first=True)
                if not adopted.same_model(ref):
                    raise WorkspaceError(
                        f"{self.folder}: {adopted.title} became this library's model while {ref.title} was loading "
                        "(an import?); index again to embed with it"
                    )
                key = writer.key_of(ref)
                index = SearchIndex(writer, key, self.approximate_from)
                segments = SearchIndex(writer, key, self.approximate_from, segments=True) if writer.moments else None
                with self._backend(backend, InProcess(model, ref, batch_size, reduced_jpeg)) as chosen:
                    return embed_pending(writer, chosen, progress, cancelled, index, segments)
        finally:
            writer.close()

    def _moments_to_cut(self) -> bool:
        """Whether long recordings wait for their windows and the model that cuts them is here (when it is away,
        indexing scans and leaves them for later, as it leaves nothing pending)."""
        library = self.library
        if not library.moments or library.model is None:
            return False
        waiting = library.unsegmented(library.key_of(library.model), SEGMENTED, sorted(VIDEO_EXTENSIONS))
        return bool(waiting) and self.model_state().available

    def _backend(self, cluster: RayCluster | None, in_process: InProcess) -> contextlib.AbstractContextManager[Backend]:
        if cluster is None:
            return contextlib.nullcontext(in_process)
        from engine.cluster import SHARDS, RayBackend

        folder = Path(cluster.shards) if cluster.shards is not None else self.folder / SHARDS
        return RayBackend(
            cluster.address,
            folder,
            in_process.model.entry,
            in_process,
            self.handle.device,
            self.handle.precision,
            cluster.actors,
            cluster.shard_size,
        )

    def import_embeddings(
        self,
        source: str | Path,
        progress: Progress | None = None,
        cancelled: Cancelled = never,
        trusted: bool = False,
    ) -> ImportReport:
        """Add precomputed embeddings (Parquet files in the interchange schema); searchable when this returns.
        ``trusted``: the cluster's shards of files this library hashed (see ``engine.exchange``)."""
        writer = self._writer(progress)
        try:
            indexes: dict[tuple[str, bool], SearchIndex] = {}

            def keep_current() -> None:
                key = writer.get_meta("model")
                for segments in (False, True) if key else ():
                    index = indexes.get((key, segments))
                    if index is None:
                        index = indexes[key, segments] = SearchIndex(
                            writer, key, self.approximate_from, segments=segments
                        )
                    index.maintain(final=True)

            return import_embeddings(writer, source, progress, cancelled, after_file=keep_current, trusted=trusted)
        finally:
            writer.close()

    def export(self, out: str | Path, progress: Progress | None = None, include_failures: bool = False) -> int:
        return export(self.library, out, progress, include_failures)

    def move_root(self, old: str | Path, new: str | Path) -> tuple[int, int]:
        if not Path(new).is_dir():
            raise WorkspaceError(f"{display(os.fspath(new))}: not a folder")
        return self.library.move_root(old, new)

    def health(self) -> str:
        """ "ok", or what SQLite's quick check found damaged in the library's database."""
        return self.library.quick_check()

    def index_details(self) -> dict:
        """How the search index is built (exact or approximate, per modality), for the status; {} before any model."""
        return self.search_index().describe() if self.library.model is not None else {}

    def remove_root(self, root_id: int) -> None:
        self.library.remove_root(root_id)

    def forget_missing(self) -> int:
        """Remove the items whose files were deleted (they are otherwise kept, offline)."""
        return self.library.remove_missing()

    # -- re-embedding with another model --------------------------------------------------------

    def plan_reembed(self, name: str) -> ReembedPlan:
        """How many items the model ``name`` would embed, and how long that would take here."""
        from engine.encoder import Encoder
        from engine.models.factory import load_model
        from engine.models.identity import ref_for_entry

        entry = resolve(name)
        if not entry.available:
            raise WorkspaceError(f"{entry.title} is not on this machine (expected {entry.weights_path})")
        target = ref_for_entry(entry)
        todo, offline = self._reembed_todo(target)
        sample = [i for i in todo if i.path is not None][:4] or todo[:4]
        seconds = 0.0
        if sample:
            model = load_model(entry, device=self.handle.device, precision=self.handle.precision)
            encoder = Encoder(model, batch_size=len(sample))
            started = time.perf_counter()
            for modality in {i.modality for i in sample}:
                chosen = [i for i in sample if i.modality is modality]
                if modality is Modality.TEXT:
                    encoder.encode_texts([i.source for i in chosen])
                else:
                    encoder.encode_files(modality, [i.path for i in chosen])
            seconds = (time.perf_counter() - started) / len(sample) * len(todo)
        return ReembedPlan(target, len(todo), offline, seconds)

    def _reembed_todo(self, target: ModelRef) -> tuple[list[Item], int]:
        """The items the target model has not embedded yet that can be read now, and how many are offline."""
        return online(self.library, self.library.items_without(self.library.key_of(target) or target.key))

    def reembed(
        self,
        name: str,
        progress: Progress | None = None,
        cancelled: Cancelled = never,
        batch_size: int | None = None,
        switch_incomplete: bool = False,
    ) -> tuple[EmbedReport, bool]:
        """Embed the whole library with the model ``name`` beside the current one, then switch to it; searches
        keep using the current vectors until then. Rerun to resume after a cancel. Returns (report, switched):
        the switch waits for offline items unless ``switch_incomplete``."""
        from engine.models.factory import load_model
        from engine.models.identity import ref_for_entry

        entry = resolve(name)
        if not entry.available:
            raise WorkspaceError(f"{entry.title} is not on this machine (expected {entry.weights_path})")
        target = ref_for_entry(entry)
        current = self.library.model
        if current is not None and current.same_model(target):
            return EmbedReport(), False
        model = load_model(entry, device=self.handle.device, precision=self.handle.precision)
        writer = self._writer(progress)
        try:
            with exclusive(writer.folder / EMBEDDING, _waiting(progress), cancelled) as held:
                if not held:
                    return EmbedReport(cancelled=True), False
                key = writer.register_model(target)
                with writer.transaction():
                    writer.set_meta("reembed_target", key)
                todo, offline = self._reembed_todo(target)
                index = SearchIndex(writer, key, self.approximate_from)
                report = embed_items(writer, model, target, todo, progress, cancelled, batch_size, index)
                report.offline = offline
                switched = not report.cancelled and (offline == 0 or switch_incomplete)
                if switched:
                    writer.set_model(target)
                    with writer.transaction():
                        writer.set_meta("reembed_target", "")
                    if writer.moments:  # the new model's moments, cut through the one loop
                        segments = SearchIndex(writer, key, self.approximate_from, segments=True)
                        cut = embed_pending(
                            writer, InProcess(model, target, batch_size), progress, cancelled, index, segments
                        )
                        report.segments, report.cancelled = cut.segments, cut.cancelled
                        report.warnings += cut.warnings
        finally:
            writer.close()
        if switched:
            self.handle.adopt(model)
            self._index = None
        return report, switched

    # -- queries ------------------------------------------------------------------------------

    def search_index(self) -> SearchIndex:
        ref = self.library.model
        if ref is None:
            raise WorkspaceError(f"{self.folder}: nothing is embedded yet; index it first")
        key = self.library.key_of(ref)
        if self._index is None or self._index.key != key or self._index.library is not self.library:
            self._index = SearchIndex(self.library, key, self.approximate_from)
        return self._index

    def segment_index(self) -> SearchIndex:
        """The search index over the library's moments (the windows of its long recordings)."""
        index = self.search_index()
        if self._segments is None or self._segments.key != index.key or self._segments.library is not self.library:
            self._segments = SearchIndex(self.library, index.key, self.approximate_from, segments=True)
        return self._segments

    def searcher(self) -> Searcher:
        index = self.search_index()
        return Searcher(self.library, self.library.model, index, self._encoder_for, self.terms, self.segment_index())

    def search(
        self,
        terms: list[Term],
        k: int = 10,
        modalities: list[Modality] | None = None,
        labels: list[str] | None = None,
        filter: Filter | None = None,
        moments: bool = False,
    ) -> SearchOutcome:
        """The nearest items of each modality, where the query lands on the current map, and its zero-shot labels.
        With a ``filter``, the nearest of the items it lets through: k of a modality whenever k are let through
        (the filter is applied inside the index search, not to its first k). With ``moments``: the best windows of
        long recordings instead (``SearchOutcome.moments``), best first, of the items the filter lets through."""
        searcher = self.searcher()
        allowed, min_score = None, None
        if filter is not None:
            min_score = filter.min_score
            if filter.modalities:
                modalities = [m for m in modalities or filter.modalities if filter.allows(m)]
            if filter.by_file:  # a modality alone is a choice of indexes, not a filter inside them
                allowed = self.filtering.allowed(self.library, searcher.key, filter)
        results = searcher.search(terms, k, modalities, allowed, min_score, moments)
        hits = [h for group in results.by_modality.values() for h in group]
        items = {i.id: i for i in self.library.items(ids=[h.item_id for h in hits])}
        offline = self.offline(items.values())
        maker = self._maps.get(searcher.key)
        point = maker.place(results.vector) if maker is not None else None
        probabilities = []
        if labels:
            try:
                probabilities = searcher.classify(results.composed(), labels)
            except ModelMissing:
                probabilities = []  # labels never embedded, and no model to embed them: no probabilities
        return SearchOutcome(results, items, point, probabilities, offline, results.moments)

    def moment_scores(self, item_id: int, vector: np.ndarray) -> list[Moment]:
        """Every window of one item scored against a query's composed vector (``SearchOutcome.results.vector``), in
        time order: the score along a long recording. None for an item without windows (short, or not cut yet)."""
        item = self.library.item(int(item_id))
        if item is None or self.library.model is None:
            return []
        return self.searcher().window_scores(np.asarray(vector, np.float32), item.id, item.modality)

    def listing(
        self,
        filter: Filter | None = None,
        order: str = "path",
        offset: int = 0,
        limit: int = 100,
        *,
        within: Listing | None = None,
        descending: bool = False,
    ) -> list[Item]:
        """One page of the items a filter lets through (every status) ``within`` a listing (a modality, a folder,
        the items of no folder, a status, the offline items), sorted by ``order`` ("path", "date" or "id"): what
        the browse view and `bindscope list` page over, a page at a time (read by offset from an index)."""
        if order not in ORDERS:
            raise WorkspaceError(f"cannot sort by {order!r}: choose {', '.join(ORDERS)}")
        offline = self._offline_roots() if within is not None and within.offline else ()
        with self.library.snapshot():
            return self.library.matching(
                filter or Filter(),
                order,
                max(0, offset),
                max(0, limit),
                within=within,
                descending=descending,
                offline_roots=offline,
            )

    def count(self, filter: Filter | None = None, within: Listing | None = None) -> int:
        """How many items a filter lets through ``within`` a listing (a browse view's length)."""
        offline = self._offline_roots() if within is not None and within.offline else ()
        return self.library.count_matching(filter or Filter(), within, offline)

    def has_folder(self, folder: str | Path) -> bool:
        """Whether any item of the library lies under ``folder`` (a filter by a folder it does not know is a slip)."""
        return self.library.has_folder(os.fspath(folder))

    def map_mask(self, filter: Filter, data: MapData) -> np.ndarray:
        """Which of the map's points a filter lets through (one bool a point), for the map to show or dim."""
        projection = data.projection
        return self.filtering.mask(self.library, filter, projection.ids, projection.modalities)

    def offline(self, items) -> set[int]:
        """The ids of the items whose file is gone or whose folder (a root, a drive mounted in one) is offline now."""
        folders = self.library.offline_folders()
        return {i.id for i in items if i.path is not None and (i.missing or under(i.path, folders))}

    def classify(self, target: Term, labels: list[str], templates: tuple[str, ...] = ZERO_SHOT_TEMPLATES):
        return self.searcher().classify(target, labels, templates)

    def place(self, vector: np.ndarray) -> tuple[float, float] | None:
        """Where a vector lands on the map last made in this workspace (the query's star)."""
        ref = self.library.model
        maker = self._maps.get(self.library.key_of(ref)) if ref else None
        return maker.place(vector) if maker is not None else None

    def describe_files(self, paths: list[str], pane: Modality | None = None) -> list[DroppedFile]:
        """What dropped files are: a library item's modality, else detected (reading the file where the name
        leaves it open); a file no loader reads is refused with the reason. Never call it on a GUI thread."""
        from engine.preprocess.detect import ACCEPTS

        described = []
        for path in paths:
            item = self.library.item_by_path(path)
            if item is not None and (pane is None or pane is item.modality or item.modality not in ACCEPTS):
                described.append(DroppedFile(path, item.modality, item_id=item.id))
                continue
            fits = pane is not None and Path(path).suffix.lower() in ACCEPTS[pane]
            modality = detect_modality(path, pane if fits else None)
            refusal = None if modality is not None else _refusal(Path(path))
            described.append(DroppedFile(path, modality, refusal, item.id if item else None))
        return described

    # -- the map --------------------------------------------------------------------------------

    def map(
        self,
        on_preview: Callable[[MapData], None] | None = None,
        clusters: str | None = None,
        cancelled: Cancelled = never,
        apart: bool = False,
    ) -> MapData | None:
        """The library's map (cached, updated, or laid out again), optionally with clusters named by the labels.

        It reads through its own connection, so the app can make it on one thread while searching on another;
        the finished layout stays here to place query vectors (``place``)."""
        ref = self.library.model
        if ref is None:
            return None
        reader = Library(self.folder, read_only=self._read_only)
        try:
            key = reader.key_of(ref)
            maker = MapMaker(reader, key, apart=apart)
            projection = maker.compute(lambda p: on_preview and on_preview(MapData(p)), cancelled)
            if projection is None:
                return None
            data = MapData(projection)
            if clusters:
                found = maker.clusters(projection, clusters)
                data.clusters, data.clusters_note = found.labels, found.note
                data.cluster_names = self._cluster_names(reader, maker, projection, data.clusters)
        finally:
            reader.close()
        self._maps[key] = maker
        return data

    def _cluster_names(self, reader: Library, maker: MapMaker, projection: Projection, assignments) -> dict:
        labels = reader.labels
        if not labels:
            return {}
        searcher = Searcher(reader, reader.model, SearchIndex(reader, maker.key), self._encoder_for, self.terms)
        try:
            label_vectors, _ = searcher.label_embeddings(labels)
        except ModelMissing:
            return {}
        sample_ids, sample_vectors = maker.sample_vectors()
        where = {i: n for n, i in enumerate(projection.ids.tolist())}
        return name_clusters(
            sample_vectors, assignments[[where[i] for i in sample_ids.tolist()]], label_vectors, labels
        )


def _waiting(progress: Progress | None, what: str = "another indexing run") -> Callable[[], None]:
    """What a job reports while another process embeds into or imports into the same library (see
    ``engine.library.lock``)."""
    return (lambda: progress(f"waiting for {what}", 0, None)) if progress else (lambda: None)


def _downloadable(name: str) -> bool:
    try:
        return resolve(name).downloadable
    except Exception:
        return False


def _refusal(path: Path) -> str:
    """Why a file cannot be a query term."""
    if path.suffix.lower() == ".csv":
        return f"{path.name} is not an IMU recording: no accelerometer or gyroscope columns (ax, ay, az, gx, gy, gz)"
    return f"{path.name}: BindScope cannot read {path.suffix or 'this kind of'} files"


__all__ = [
    "STATUSES",
    "USER_ERRORS",
    "DroppedFile",
    "Embedded",
    "Filter",
    "Hit",
    "IndexReport",
    "Item",
    "LibraryError",
    "LibrarySummary",
    "Listing",
    "MapData",
    "ModelMissing",
    "ModelState",
    "Moment",
    "NoSuchMoment",
    "Preview",
    "Projection",
    "QueryError",
    "RayCluster",
    "ReembedPlan",
    "RootSummary",
    "SearchOutcome",
    "Term",
    "Workspace",
    "WorkspaceError",
    "active_model",
    "demo_gallery",
    "display",
    "download_model",
    "embed_shards",
    "explain",
    "find_model",
    "models",
    "preview",
    "train_bind",
    "train_demo",
]
