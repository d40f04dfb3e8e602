"""Nearest-neighbour search over one model's vectors in a library, per modality, always current.

Per-modality search makes "the top k of each requested modality" exact and cheap, and "the top
k across all" an exact merge. For each modality:

* below ``APPROXIMATE_FROM`` vectors, search is exact: a BLAS matrix-vector product straight over
  the memory-mapped vector file, nothing loaded or copied;
* above it, a FAISS IVF index of 1-bit RaBitQ codes (136 bytes a vector at 1024 dimensions)
  proposes candidates, which are re-ranked exactly from the mapped vectors,
  so every score shown is exact and float vectors are never loaded whole. Rows committed since
  the approximate index last grew (its "tail") are searched exactly and merged.

The index never goes stale and is never built inside a query: the committed row counts it
compares with are one indexed SQLite read, and rows are only ever appended. Writers (indexing,
import, re-embedding) call ``maintain``, which adds new rows to the approximate index, trains a
new one when a modality crosses the threshold or has grown ``RETRAIN_GROWTH``-fold since its
training, and saves it under ``cache/`` (``engine.cache``); other processes pick up the saved file when their tail
grows. Search hits are vector rows; SQLite turns them into items (duplicates share a row), and
rows whose items are gone are skipped by fetching further.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.cache import cache_folder, save_atomically
from engine.library import Library
from engine.modality import Modality
from engine.vectors import VectorStore

APPROXIMATE_FROM = 50_000
RETRAIN_GROWTH = 4.0
ADD_STEP = 20_000  # a writer adds its tail to the approximate index (and saves it) once it is this long
# Candidates re-ranked exactly: the first 100 places of a modality (the app's "Show 100") come from one set.
# 200 of them held 0.90 of the true top 10 at 1M on issue 20's hard data (3,000 clusters, near-tied neighbours).
RERANK = 1000
# A filter that leaves at most this many of a modality's vectors is searched exactly: reading them costs less than
# scanning the index for them (20,000 vectors of 1024 dimensions are 80 MB).
EXACT_SUBSET = 20_000
WALK_MARGIN = 1.5  # a walk ranks 1.5x the rows its filter's share says k needs: one round, most times
DENSE = 8  # a run of rows at least 1/8 allowed is scored straight from the map rather than gathered
PER_PLACE = 10  # candidates re-ranked for each place they fill (the first 100 results from the best 1,000)
FORMAT = 2  # saved indexes of another format are ignored (searched exactly) until a writer rebuilds them
_MAX_LISTS = 4096
_MIN_NPROBE = 64  # at 10M vectors around 2,000 centres, 16 of 3,162 lists held 90% of the true top 10
_SCANNED = 100_000  # codes a query scans at least: probing fewer lists missed true neighbours (see nprobe_for)
_TRAIN_PER_LIST = 32
_KMEANS_ROUNDS = 8
_ADD_CHUNK = 65_536


@dataclass(frozen=True)
class Hit:
    item_id: int
    score: float
    modality: Modality


def _faiss():
    import faiss

    return faiss


@dataclass
class _Approximate:
    """A trained approximate index over the first ``rows`` vectors of one modality."""

    index: object
    rows: int
    trained_rows: int
    centroids: np.ndarray | None = None  # the lists' centroids, read from the index when first adding

    @property
    def nprobe(self) -> int:
        return self.index.nprobe


def ranked(rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The order that ranks (rows, scores): best score first, equal scores by row, so ties never depend on k."""
    return np.lexsort((rows, -scores))


def best_of(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` best scores, best first (ties by position). Every position tied with the k-th is
    considered, so the result for k is the first k of any larger k's."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.int64)
    if k < len(scores):
        kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
        top = np.flatnonzero(scores >= kth)
    else:
        top = np.arange(len(scores))
    return top[ranked(top, scores[top])][:k]


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of the ``k`` best rows of ``vectors @ query``, best first (ties by row); rows counted from
    ``offset``."""
    if not len(vectors) or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    scores = np.asarray(vectors @ query, np.float32)
    order = best_of(scores, k)
    return order.astype(np.int64) + offset, scores[order]


def merge_ranked(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray], count: int):
    """The first ``count`` of two rankings merged head by head (better score first, ties by row). Each place
    depends only on the places before it in both inputs, so a longer merge extends a shorter one."""
    if not len(second[0]):
        return first[0][:count], first[1][:count]
    if not len(first[0]):
        return second[0][:count], second[1][:count]
    rows, scores, a, b = [], [], 0, 0
    (rows_a, scores_a), (rows_b, scores_b) = (
        (first[0].tolist(), first[1].tolist()),
        (second[0].tolist(), second[1].tolist()),
    )
    while len(rows) < count and (a < len(rows_a) or b < len(rows_b)):
        take_a = b >= len(rows_b) or (a < len(rows_a) and (scores_a[a], -rows_a[a]) >= (scores_b[b], -rows_b[b]))
        if take_a:
            rows.append(rows_a[a]), scores.append(scores_a[a])
            a += 1
        else:
            rows.append(rows_b[b]), scores.append(scores_b[b])
            b += 1
    return np.array(rows, np.int64), np.array(scores, np.float32)


def nearest_centroids(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each vector's nearest centroid (L2, as FAISS's flat quantizer routes queries), by one BLAS product:
    NumPy's BLAS runs it several times faster than FAISS's own assignment on this kind of machine."""
    return np.argmax(vectors @ centroids.T - 0.5 * np.einsum("ij,ij->i", centroids, centroids), axis=1)


def kmeans(sample: np.ndarray, count: int, rng: np.random.Generator, rounds: int = _KMEANS_ROUNDS) -> np.ndarray:
    """Lloyd's k-means in NumPy: routing needs rough centroids, not converged ones. An emptied list is
    re-seeded with a random sample point."""
    centroids = sample[rng.choice(len(sample), count, replace=False)].copy()
    for _ in range(rounds):
        assigned = nearest_centroids(sample, centroids)
        order = np.argsort(assigned, kind="stable")
        counts = np.bincount(assigned, minlength=count)
        filled = np.flatnonzero(counts)
        sums = np.add.reduceat(sample[order], np.concatenate([[0], np.cumsum(counts[filled])[:-1]]), axis=0)
        centroids[filled] = sums / counts[filled, None]
        empty = np.flatnonzero(counts == 0)
        centroids[empty] = sample[rng.choice(len(sample), len(empty), replace=False)]
    return centroids


def nprobe_for(lists: int, rows: int, scanned: int = _SCANNED, least: int = _MIN_NPROBE) -> int:
    """Lists a query probes: enough to scan ``scanned`` codes. Neighbours spread over more lists than their
    share when the data has more clusters than the index has lists; measured on 1024-d vectors around 2,000
    centres (benchmarks/search.py's), 16 of 316 lists at 100k held 79% of the true top 10 after re-ranking,
    158 of them 99%, while 16 of 1,000 lists at 1M held 99%. Scanning 1-bit codes is cheap (~1.5 ms at 100k)."""
    return int(min(lists, max(least, np.ceil(lists * scanned / rows))))


@dataclass(frozen=True)
class Allowed:
    """What a filtered search may return. A modality in ``rows`` (a narrow filter) is searched among those vector
    rows only (sorted), inside the index; any other is searched as usual, and its ranking walked further until
    ``k`` of the items found pass. ``admits`` says which of the items found pass: duplicates share a row, so a row
    can hold items on both sides."""

    rows: dict[Modality, np.ndarray]
    admits: Callable[[list[int]], np.ndarray]
    shares: dict[Modality, float] = field(default_factory=dict)  # of each modality's items, the share let through

    def first_fetch(self, modality: Modality, wanted: int) -> int:
        """Rows to rank first when walking: enough that ``wanted`` pass if they pass at the modality's share."""
        share = self.shares.get(modality, 1.0)
        return wanted if share >= 1.0 else int(np.ceil(wanted * WALK_MARGIN / max(share, 1e-9)))


@dataclass(frozen=True)
class Effort:
    """How hard an approximate search looks: the candidates it re-ranks exactly (the first tier, see
    ``SearchIndex._approximate_ranking``) and the codes it scans to find them (at least ``least_lists`` lists)."""

    rerank: int = RERANK
    scanned: int = _SCANNED
    least_lists: int = _MIN_NPROBE

    def parameters(self, index, selector=None, allowed: int | None = None):
        """Search parameters; with a ``selector`` of ``allowed`` rows, enough lists to scan as many allowed codes."""
        faiss = _faiss()
        parameters = faiss.IVFRaBitQSearchParameters()
        rows = index.ntotal if allowed is None else allowed
        parameters.nprobe = nprobe_for(index.nlist, max(1, rows), self.scanned, self.least_lists)
        parameters.qb = index.qb
        if selector is not None:
            parameters.sel = selector
        return parameters


def build_approximate(vectors_at, rows: int, dim: int, seed: int = 0) -> _Approximate:
    """An IVF index of 1-bit RaBitQ codes of the full vectors, routed by k-means centroids; every row added
    (read in chunks through ``vectors_at(rows or slice)``).

    The codes keep all dimensions: a PCA to 256 dimensions first lost so much of the vectors' spread
    that 200 re-ranked candidates held only ~75% of the true top 10 at a million vectors. The lists'
    centroids and the routing of added vectors are computed in NumPy (see ``nearest_centroids``)."""
    faiss = _faiss()
    lists = int(np.clip(np.sqrt(rows), 16, _MAX_LISTS))
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(rows, size=min(rows, lists * _TRAIN_PER_LIST), replace=False))
    sample = np.ascontiguousarray(vectors_at(picks), np.float32)
    index = faiss.IndexIVFRaBitQ(faiss.IndexFlatL2(dim), dim, lists, faiss.METRIC_L2)
    index.quantizer.add(kmeans(sample, lists, rng))
    index.train(sample)  # the quantizer is full, so only the RaBitQ encoder trains
    index.nprobe = nprobe_for(lists, rows)
    approximate = _Approximate(index, 0, rows)
    _add(approximate, vectors_at, rows)
    return approximate


def _add(approximate: _Approximate, vectors_at, rows: int) -> None:
    faiss, index = _faiss(), approximate.index
    if approximate.centroids is None:
        approximate.centroids = index.quantizer.reconstruct_n(0, index.nlist)
    for start in range(approximate.rows, rows, _ADD_CHUNK):
        stop = min(rows, start + _ADD_CHUNK)
        chunk = np.ascontiguousarray(vectors_at(slice(start, stop)), np.float32)
        lists = np.ascontiguousarray(nearest_centroids(chunk, approximate.centroids), np.int64)
        index.add_core(len(chunk), faiss.swig_ptr(chunk), None, faiss.swig_ptr(lists))
        approximate.rows = stop


def _sound(index, rows: int, dim: int) -> bool:
    """Whether a loaded index is what ``build_approximate`` makes over ``rows`` vectors of ``dim`` dimensions."""
    faiss = _faiss()
    if not isinstance(index, faiss.IndexIVFRaBitQ) or not index.is_trained:
        return False
    if index.d != dim or index.ntotal != rows or not 0 < index.nlist <= _MAX_LISTS:
        return False
    if index.quantizer.ntotal != index.nlist or index.quantizer.d != dim:
        return False
    lists, total = index.invlists, 0
    for number in range(index.nlist):  # every id a row it covers, each list read once (8 bytes a vector)
        size = lists.list_size(number)
        if size:
            ids = faiss.rev_swig_ptr(lists.get_ids(number), size)
            if ids.min() < 0 or ids.max() >= rows:
                return False
            total += size
    return total == rows


class SearchIndex:
    """Search over one model's vectors in a library (``key`` is the model's key in the library)."""

    def __init__(self, library: Library, key: str, approximate_from: int = APPROXIMATE_FROM, effort: Effort = Effort()):
        self.library = library
        self.key = key
        self.approximate_from = approximate_from
        self.effort = effort
        self.store: VectorStore = library.store(key)
        self._approximate: dict[Modality, _Approximate] = {}
        self._loaded_at: dict[Modality, float] = {}
        self._rejected: dict[Modality, float] = {}  # the saved description of an index found unsound
        self._lock = threading.RLock()

    # -- files ------------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return cache_folder(self.library.folder) / f"index-{self.key}"

    def _paths(self, modality: Modality) -> tuple[Path, Path]:
        return self.folder / f"{modality.value}.faiss", self.folder / f"{modality.value}.json"

    def _load(self, modality: Modality, committed: int) -> None:
        """Take the saved approximate index when it is sound and covers more rows than the one in memory. The file
        is untrusted: one that is not what ``build_approximate`` makes over these rows is set aside (searched
        exactly), and the next writer builds a new one over it."""
        index_path, meta_path = self._paths(modality)
        try:
            changed = meta_path.stat().st_mtime
            if changed in (self._loaded_at.get(modality), self._rejected.get(modality)):
                return
            meta = json.loads(meta_path.read_text())
            rows, trained = int(meta["rows"]), int(meta["trained_rows"])
            if meta.get("format") != FORMAT:
                return
        except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError):
            return
        current = self._approximate.get(modality)
        if rows > committed or (current is not None and current.rows >= rows):
            return
        faiss = _faiss()
        try:
            flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if self.library.read_only else 0
            index = faiss.read_index(str(index_path), flags)  # of its own class: faiss downcasts what it reads
        except (RuntimeError, MemoryError):  # damaged or half-written
            index = None
        if not _sound(index, rows, self.store.dim) or not 0 < trained <= rows:
            self._rejected[modality] = changed  # not read again; searched exactly until a writer builds anew
            return
        nprobe = meta.get("nprobe")
        sound_nprobe = isinstance(nprobe, int) and 0 < nprobe <= index.nlist
        index.nprobe = nprobe if sound_nprobe else nprobe_for(index.nlist, rows)
        self._approximate[modality] = _Approximate(index, rows, trained)
        self._loaded_at[modality] = changed

    def _save(self, modality: Modality, approximate: _Approximate) -> None:
        """Index file first, then its description: a reader never takes a half-written pair as valid."""
        index_path, meta_path = self._paths(modality)
        meta = {
            "format": FORMAT,
            "rows": approximate.rows,
            "trained_rows": approximate.trained_rows,
            "nprobe": approximate.nprobe,
        }
        saved = save_atomically(index_path, lambda path: _faiss().write_index(approximate.index, str(path)))
        if saved and save_atomically(meta_path, lambda path: path.write_text(json.dumps(meta))):
            with contextlib.suppress(OSError):
                self._loaded_at[modality] = meta_path.stat().st_mtime

    # -- search -----------------------------------------------------------------------------

    def counts(self) -> dict[Modality, int]:
        return self.library.store_rows(self.key)

    def search(
        self,
        query: np.ndarray,
        k: int = 10,
        modalities: list[Modality] | None = None,
        exclude: set[int] | None = None,
        allowed: Allowed | None = None,
    ) -> dict[Modality, list[Hit]]:
        """The ``k`` nearest items of each requested modality (all that have vectors by default), best first;
        with ``allowed``, the ``k`` nearest of the items it lets through (k whenever k are let through)."""
        query = np.ascontiguousarray(np.asarray(query, np.float32).reshape(-1))
        exclude = exclude or set()
        committed = self.counts()
        out: dict[Modality, list[Hit]] = {}
        for modality in modalities or list(committed):
            rows = committed.get(modality, 0)
            subset = allowed.rows.get(modality) if allowed is not None else None
            if subset is not None:
                subset = subset[: np.searchsorted(subset, rows)]  # only rows this search's count covers
            searchable = rows if subset is None else len(subset)
            out[modality] = (
                self._search_modality(modality, rows, query, k, exclude, allowed, subset) if searchable else []
            )
        return out

    def _search_modality(self, modality, rows, query, k, exclude, allowed, subset):
        fetch, searchable = k + len(exclude), rows if subset is None else len(subset)
        if allowed is not None and subset is None:
            fetch = min(rows, allowed.first_fetch(modality, fetch))
        while True:
            found, scores = self._nearest_rows(modality, rows, query, fetch, subset)
            owners = self.library.items_at_rows(self.key, modality, found.tolist())
            named = [
                (item_id, score)
                for row, score in zip(found.tolist(), scores.tolist(), strict=True)
                for item_id in owners.get(row, [])
                if item_id not in exclude
            ]
            if allowed is not None and named:
                named = [pair for pair, ok in zip(named, allowed.admits([i for i, _ in named]), strict=True) if ok]
            hits = [Hit(item_id, float(score), modality) for item_id, score in named]
            if len(hits) >= k or len(found) >= searchable:
                return hits[:k]
            fetch *= 4  # rows whose items were removed or filtered out took places: look further

    def _nearest_rows(self, modality: Modality, rows: int, query: np.ndarray, fetch: int, subset=None):
        """The best ``fetch`` rows of a modality (of ``subset``, sorted, when given) and their exact scores: the
        approximate index's ranking merged with the exact ranking of the rows it does not cover yet. A subset of at
        most ``EXACT_SUBSET`` rows is searched exactly."""
        vectors = self.store.view(modality, rows)
        with self._lock:
            if rows - self._covered(modality) > 0:
                self._load(modality, rows)
            approximate = self._approximate.get(modality)
        covered = approximate.rows if approximate is not None else 0
        if subset is None:
            tail = exact_top(vectors[covered:], query, fetch, offset=covered)
            inside = None
        else:
            split = int(np.searchsorted(subset, covered))
            inside, tail = subset[:split], self._exact_rows(modality, rows, subset[split:], query, fetch)
            if len(inside) <= EXACT_SUBSET:
                return merge_ranked(self._exact_rows(modality, rows, inside, query, fetch), tail, fetch)
        if approximate is None:
            return tail
        ranking = self._approximate_ranking(modality, approximate, vectors, query, fetch, inside)
        return merge_ranked(ranking, tail, fetch)

    def _exact_rows(self, modality: Modality, rows: int, picks: np.ndarray, query: np.ndarray, fetch: int):
        """The best ``fetch`` of the rows ``picks`` (sorted) by exact score: a dense run is scored straight from the
        map, scattered rows are read first (``VectorStore.gather``)."""
        if not len(picks):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        low, high = int(picks[0]), int(picks[-1]) + 1
        if len(picks) * DENSE >= high - low:
            scores = np.asarray(self.store.view(modality, rows)[low:high] @ query, np.float32)[picks - low]
        else:
            scores = np.asarray(self.store.gather(modality, rows, picks) @ query, np.float32)
        order = best_of(scores, fetch)
        return picks[order], scores[order]

    def _approximate_ranking(self, modality, approximate: _Approximate, vectors, query, fetch: int, inside=None):
        """The best ``fetch`` rows the approximate index covers (of ``inside``, sorted, when given), by exact score,
        found in tiers whose sizes never depend on k: the first ``effort.rerank // PER_PLACE`` places come from the
        best ``effort.rerank`` candidates, the next from 4x as many, ..., the last tier from every row. So the
        results for k are always the first k of the results for a larger k, and for k up to
        ``effort.rerank // PER_PLACE`` they are the exact ranking of one candidate set. With ``inside``, FAISS
        proposes only those rows (a bitmap selector) and scans enough lists to see as many of them."""
        covered = approximate.rows
        searchable, selector, bits = covered, None, None
        if inside is not None:
            mask = np.zeros(covered, bool)
            mask[inside] = True
            bits = np.packbits(mask, bitorder="little")  # kept alive while FAISS reads it
            selector, searchable = _faiss().IDSelectorBitmap(covered, _faiss().swig_ptr(bits)), len(inside)
        rows, scores, filled, wanted = [], [], 0, self.effort.rerank
        while filled < min(fetch, searchable):
            if wanted * 4 > searchable:  # the last tier: every covered (allowed) row, exactly
                if inside is None:
                    found, found_scores = exact_top(vectors[:covered], query, fetch + filled)
                else:
                    found, found_scores = self._exact_rows(modality, covered, inside, query, fetch + filled)
                places = searchable
            else:
                parameters = self.effort.parameters(approximate.index, selector, None if inside is None else searchable)
                with self._lock:
                    _, candidates = approximate.index.search(query[None], wanted, params=parameters)
                found = np.sort(candidates[0][candidates[0] >= 0])
                found_scores = np.asarray(self.store.gather(modality, covered, found) @ query, np.float32)
                order = ranked(found, found_scores)
                found, found_scores = found[order], found_scores[order]
                places = wanted // PER_PLACE
            if filled:
                fresh = ~np.isin(found, np.concatenate(rows))
                found, found_scores = found[fresh], found_scores[fresh]
            take = min(places - filled, len(found))
            rows.append(found[:take])
            scores.append(found_scores[:take])
            filled += take
            wanted *= 4
        return np.concatenate(rows)[:fetch], np.concatenate(scores)[:fetch]

    def _covered(self, modality: Modality) -> int:
        approximate = self._approximate.get(modality)
        return approximate.rows if approximate is not None else 0

    # -- writers ----------------------------------------------------------------------------

    def maintain(self, final: bool = False) -> None:
        """Keep the approximate indexes up with the vectors: add tails, train when needed, save.

        Cheap when there is nothing to do; a writer calls it after each committed batch (and with
        ``final`` at the end, so the saved index covers everything for the next process).
        """
        for modality, rows in self.counts().items():
            with self._lock:
                self._load(modality, rows)
                approximate = self._approximate.get(modality)
                if rows < self.approximate_from:
                    continue
                vectors = self.store.view(modality, rows)
                dim = self.store.dim
                if approximate is None or rows > RETRAIN_GROWTH * approximate.trained_rows:
                    approximate = build_approximate(lambda picks, v=vectors: v[picks], rows, dim)
                elif rows - approximate.rows >= (1 if final else ADD_STEP):
                    if self.library.read_only:
                        continue
                    _add(approximate, lambda picks, v=vectors: v[picks], rows)
                else:
                    continue
                self._approximate[modality] = approximate
                self._save(modality, approximate)

    def describe(self) -> dict[str, dict]:
        """Per modality: vectors, how many the approximate index covers (0: exact search), and when it was saved."""
        out = {}
        for modality, rows in self.counts().items():
            self._load(modality, rows)
            covered = self._covered(modality)
            saved = self._loaded_at.get(modality)
            out[modality.value] = {
                "vectors": rows,
                "approximate": covered,
                "saved": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(saved)) if saved else None,
            }
        return out
