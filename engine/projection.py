"""A 2-D map of a library's embeddings: a PCA preview at once, then UMAP (cosine), cached and kept current.

At a million points UMAP over everything would take an hour, so UMAP lays out a random sample
of at most ``SAMPLE`` points, and every other point is placed at the similarity-weighted mean
of its nearest sampled neighbours (found exactly in a ``PLACE_DIMS``-dimensional PCA space of
the sample, which keeps cosine neighbourhoods). Vectors are read from the memory-mapped store
a chunk at a time, so memory stays bounded whatever the library's size.

The map is cached beside the library with the library's generation. When items are added or
removed later, the cached layout is updated in place (new points placed, removed points
dropped) as long as the change is small against the layout; a larger change lays the map out
again. A query is placed the same way as any point, which is where UMAP's own ``transform``
starts its optimisation, and needs no pickled reducer. K-means clusters the sample in the PCA
space; HDBSCAN clusters at most ``HDBSCAN_POINTS`` of the sample's UMAP layout (density there is
what the map shows, and 2-D keeps it to seconds at a million points). Either spreads to the other
points by their nearest sampled neighbour, and says why when it finds no cluster. Clusters can be
named by the nearest labels of a user's label list.
"""

from __future__ import annotations

import multiprocessing
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.cache import cache_folder, save_atomically
from engine.library import Library
from engine.modality import Modality

PCA, UMAP = "pca", "umap"
SAMPLE = 50_000
PLACE_DIMS = 64
PLACE_NEIGHBOURS = 10
PLACE_EXACT_UP_TO = 20_000  # sample points; above, placement searches an IVF index (see Layout._neighbours)
PLACE_PROBES = 16
REFRESH_FRACTION = 0.1  # lay the map out again when this share of its points was added or removed
UMAP_NEIGHBOURS = 30  # with min_dist 0.4: clusters read as blobs rather than specks
UMAP_EPOCHS = 200
KNN_EXACT_UP_TO = 20_000  # UMAP's neighbour graph: exact below, IVF above (pynndescent compiles for ~20 s)
HDBSCAN_POINTS = 20_000
HDBSCAN_LEAST = 10  # fewer laid-out points than this are too few for a density to mean anything
_CHUNK = 32_768
_MEMBERS = (
    *("ids", "modalities", "coords", "method", "generation", "rows", "anchors"),
    *("sample_ids", "sample_reduced", "sample_coords", "mean", "basis"),
)


@dataclass
class Projection:
    ids: np.ndarray
    modalities: np.ndarray
    coords: np.ndarray  # [N, 2] float32
    method: str
    generation: int = -1

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(eq=False)
class Layout:
    """What placing a point needs: the sample's ids, its reduced vectors and map coordinates, and the PCA basis."""

    sample_ids: np.ndarray
    sample_reduced: np.ndarray  # [S, PLACE_DIMS] unit rows
    sample_coords: np.ndarray  # [S, 2]
    mean: np.ndarray  # [D]
    basis: np.ndarray  # [D, PLACE_DIMS]

    def _neighbours(self):
        """An inner-product index over the reduced sample (FAISS searches in blocks: bounded memory). Exact for
        small samples; above ``PLACE_EXACT_UP_TO`` an IVF index probing a few lists: exact search placed a
        million points in over two minutes (each query pushes every sample point through a heap), and a
        neighbour that is nearly the nearest places a point as well."""
        if getattr(self, "_index", None) is None:
            import faiss

            reduced = np.ascontiguousarray(self.sample_reduced, np.float32)
            dims = reduced.shape[1]
            if len(reduced) <= PLACE_EXACT_UP_TO:
                self._index = faiss.IndexFlatIP(dims)
            else:
                lists = int(4 * np.sqrt(len(reduced)))
                self._index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dims), dims, lists, faiss.METRIC_INNER_PRODUCT)
                self._index.train(reduced)
                self._index.nprobe = PLACE_PROBES
            self._index.add(reduced)
        return self._index

    def reduce(self, vectors: np.ndarray) -> np.ndarray:
        reduced = (np.asarray(vectors, np.float32) - self.mean) @ self.basis
        return reduced / np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-12)

    def place(self, vectors: np.ndarray, sharpness: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates for vectors, and the sample row of each one's nearest neighbour (its anchor)."""
        near_scores, nearest = self._neighbours().search(
            self.reduce(vectors), min(PLACE_NEIGHBOURS, len(self.sample_ids))
        )
        coords = self.sample_coords[nearest]  # [n, k, 2]
        span = float(np.ptp(self.sample_coords, axis=0).max()) if len(self.sample_coords) > 1 else 1.0
        close = np.linalg.norm(coords - coords[:, :1], axis=2) <= 0.05 * (span or 1.0)
        weights = np.exp(sharpness * (near_scores - near_scores[:, :1])) * close
        placed = (weights[..., None] * coords).sum(axis=1) / weights.sum(axis=1, keepdims=True)
        return placed.astype(np.float32), nearest[:, 0]


def _sound_map(a: dict[str, np.ndarray], dim: int) -> bool:
    """Whether a saved map's arrays fit together as ``MapMaker._save`` writes them, for vectors of ``dim``."""
    n, samples = len(a["ids"]), len(a["sample_ids"])
    places = a["basis"].shape[-1] if a["basis"].ndim == 2 else -1
    shapes = (
        a["ids"].shape == a["rows"].shape == a["anchors"].shape == a["modalities"].shape == (n,)
        and a["coords"].shape == (n, 2)
        and a["sample_ids"].shape == (samples,)
        and a["sample_coords"].shape == (samples, 2)
        and a["sample_reduced"].shape == (samples, places)
        and a["mean"].shape == (dim,)
        and a["basis"].shape == (dim, places)
        and a["method"].shape == a["generation"].shape == ()
    )
    if not shapes or str(a["method"]) not in (PCA, UMAP):
        return False
    integers = ("ids", "rows", "anchors", "sample_ids", "generation")
    floats = ("coords", "sample_reduced", "sample_coords", "mean", "basis")
    if not all(a[k].dtype.kind in "iu" for k in integers) or not all(a[k].dtype.kind == "f" for k in floats):
        return False
    if not all(np.isfinite(a[k]).all() for k in floats) or a["generation"] < 0 or (n and a["rows"].min() < 0):
        return False
    if n and (a["anchors"].min() < 0 or a["anchors"].max() >= samples):
        return False
    return a["modalities"].dtype.kind == "U" and bool(np.isin(a["modalities"], [m.value for m in Modality]).all())


def _vectors(library: Library, key: str, modalities: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Gather the vectors of the given (modality, row) pairs from the store, in order."""
    store, committed = library.store(key), library.store_rows(key)
    out = np.empty((len(rows), store.dim), np.float32)
    for name in np.unique(modalities):
        modality, mask = Modality(str(name)), modalities == name
        out[mask] = store.gather(modality, committed[modality], rows[mask])
    return out


def _projected(library: Library, key: str, modalities: np.ndarray, rows: np.ndarray, matrix: np.ndarray):
    """``vectors @ matrix`` for the given (modality, row) pairs, in order, multiplying the mapped file directly
    where the rows are one run (as they are, chunk by chunk, for a library filled in order): the preview of a
    million points then reads each vector once instead of copying it first."""
    store, committed = library.store(key), library.store_rows(key)
    out = np.empty((len(rows), matrix.shape[1]), np.float32)
    for name in np.unique(modalities):
        modality, mask = Modality(str(name)), modalities == name
        picks = rows[mask]
        if len(picks) and picks[-1] - picks[0] + 1 == len(picks) and (np.diff(picks) == 1).all():
            out[mask] = store.view(modality, committed[modality])[picks[0] : picks[-1] + 1] @ matrix
        else:
            out[mask] = store.gather(modality, committed[modality], picks) @ matrix
    return out


def pca_basis(vectors: np.ndarray, dims: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(mean, [D, dims] components) by randomised SVD with two power iterations: fast and good enough."""
    from sklearn.decomposition import PCA as _PCA

    dims = max(1, min(dims, vectors.shape[1], len(vectors)))
    pca = _PCA(n_components=dims, svd_solver="randomized", iterated_power=2, random_state=seed).fit(vectors)
    return pca.mean_.astype(np.float32), pca.components_.T.astype(np.float32)


def neighbour_graph(vectors: np.ndarray, k: int, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Each point's ``k`` nearest neighbours (itself included) and cosine distances: exact BLAS search up to
    ``KNN_EXACT_UP_TO`` points, an IVF index above (UMAP's own pynndescent compiles for ~20 s per process)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, np.float32)
    dim = vectors.shape[1]
    if len(vectors) <= KNN_EXACT_UP_TO:
        index = faiss.IndexFlatIP(dim)
    else:
        lists = int(2 * np.sqrt(len(vectors)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10
        index.train(
            vectors[np.random.default_rng(0).choice(len(vectors), min(len(vectors), lists * 40), replace=False)]
        )
        index.nprobe = max(16, lists // 24)
    index.add(vectors)
    scores, rows = zip(
        *(index.search(vectors[start : start + chunk], k) for start in range(0, len(vectors), chunk)), strict=True
    )
    return np.concatenate(rows), np.clip(1.0 - np.concatenate(scores), 0.0, 2.0)


def umap_coords(vectors: np.ndarray, n_neighbors: int = UMAP_NEIGHBOURS, min_dist: float = 0.4, seed: int | None = 0):
    """UMAP with the cosine metric over a precomputed neighbour graph, 200 epochs (UMAP's own choice above
    10k points; 500 below would double the time); fewer points than neighbours fall back to PCA."""
    if len(vectors) <= n_neighbors + 1:
        return pca_coords(vectors)
    import umap

    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric="cosine",
        n_epochs=UMAP_EPOCHS,
        random_state=seed,
        n_jobs=1 if seed is not None else -1,
        precomputed_knn=neighbour_graph(vectors, n_neighbors),
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")  # no search index: we never transform
        return reducer.fit_transform(vectors).astype(np.float32)


def pca_coords(vectors: np.ndarray) -> np.ndarray:
    if len(vectors) < 3:
        return np.zeros((len(vectors), 2), np.float32)
    mean, basis = pca_basis(vectors, 2)
    return ((vectors - mean) @ basis).astype(np.float32)


def _umap_in_child(sender, vectors: np.ndarray) -> None:
    try:
        sender.send(("coords", umap_coords(vectors)))
    except Exception as error:  # carried to the parent, which raises it there
        sender.send(("error", f"{type(error).__name__}: {error}"))


class MapCancelled(Exception):
    """The map was asked to stop before UMAP finished."""


def umap_coords_apart(vectors: np.ndarray, cancelled: Callable[[], bool] = lambda: False) -> np.ndarray:
    """``umap_coords`` in a child process. Numba compiles and runs UMAP's loops holding the GIL, which
    froze the desktop app's GUI thread for up to a quarter of a second at a time; a daemon child
    leaves the app's interpreter free, stops at once when cancelled, and dies with the app."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_umap_in_child, args=(sender, vectors), daemon=True, name="bindscope-umap")
    child.start()
    sender.close()
    try:
        while not receiver.poll(0.1):
            if cancelled():
                child.terminate()
                child.join()
                raise MapCancelled("the map was cancelled")
        kind, value = receiver.recv()
    except EOFError:
        child.join()
        raise RuntimeError(f"the UMAP process stopped (exit code {child.exitcode})") from None
    finally:
        receiver.close()
    child.join()
    if kind == "error":
        raise RuntimeError(f"UMAP failed: {value}")
    return value


class MapMaker:
    """The map of one library for one model (``key``), cached under ``cache/``. ``apart`` runs UMAP in a child
    process (see ``umap_coords_apart``), as the desktop app needs."""

    def __init__(self, library: Library, key: str, apart: bool = False, sample: int = SAMPLE):
        self.library, self.key, self.apart, self.sample = library, key, apart, sample
        self.path = cache_folder(library.folder) / f"map-{key}.npz"
        self.layout: Layout | None = None
        self.anchors: np.ndarray | None = None  # per point: the sample row nearest to it

    def cached(self) -> Projection | None:
        """The map last computed (of any generation), with its layout; None if there is none or it is not sound.
        The file is untrusted: it must be the uncompressed archive ``_save`` writes (so reading it costs no
        more memory than its size on disk), with every array of the shape, type and range a map has."""
        try:
            with zipfile.ZipFile(self.path) as archive:
                members = archive.infolist()
            if {m.filename for m in members} != {f"{name}.npy" for name in _MEMBERS} or any(
                m.compress_type != zipfile.ZIP_STORED or m.file_size != m.compress_size for m in members
            ):
                return None
            with np.load(self.path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in _MEMBERS}
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            return None
        if not _sound_map(arrays, self.library.store(self.key).dim):
            return None
        a = arrays
        projection = Projection(a["ids"], a["modalities"], a["coords"], str(a["method"]), int(a["generation"]))
        self.layout = Layout(a["sample_ids"], a["sample_reduced"], a["sample_coords"], a["mean"], a["basis"])
        self.anchors, self._rows = a["anchors"], a["rows"]
        return projection

    def compute(
        self,
        on_preview: Callable[[Projection], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> Projection | None:
        """The current map: the cache if current, an update of it if the library changed a little, else a
        new layout (a PCA preview handed to ``on_preview`` first). None when nothing is embedded."""
        generation = self.library.generation
        cached = self.cached()
        if cached is not None and cached.generation == generation:
            return cached
        ids, modalities, rows, _ = self.library.embedded_rows(self.key)
        if not len(ids):
            return None
        if cached is not None and cached.method == UMAP:
            updated = self._update(cached, ids, modalities, rows, generation)
            if updated is not None:
                return updated
        return self._lay_out(ids, modalities, rows, generation, on_preview, cancelled)

    def _update(self, cached: Projection, ids, modalities, rows, generation: int) -> Projection | None:
        """Keep the points whose vector is unchanged, place the others; None when too much changed."""
        known = dict(zip(cached.ids.tolist(), range(len(cached.ids)), strict=True))
        position = np.array([known.get(i, -1) for i in ids.tolist()], np.int64)
        same = (position >= 0) & (self._rows[np.maximum(position, 0)] == rows) if len(self._rows) else position >= 0
        fresh = ~same
        changed = int(fresh.sum()) + (len(cached.ids) - int(same.sum()))
        if (
            changed > REFRESH_FRACTION * max(len(cached.ids), 1)
            or not np.isin(self.layout.sample_ids, ids).mean() > 0.9
        ):
            return None
        coords = np.empty((len(ids), 2), np.float32)
        anchors = np.empty(len(ids), np.int64)
        coords[same], anchors[same] = cached.coords[position[same]], self.anchors[position[same]]
        if fresh.any():
            coords[fresh], anchors[fresh] = self._place_chunks(modalities[fresh], rows[fresh])
        projection = Projection(ids, modalities, coords, UMAP, generation)
        self._save(projection, rows, anchors)
        return projection

    def _place_chunks(self, modalities: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        coords = np.empty((len(rows), 2), np.float32)
        anchors = np.empty(len(rows), np.int64)
        for start in range(0, len(rows), _CHUNK):
            part = slice(start, start + _CHUNK)
            coords[part], anchors[part] = self.layout.place(
                _vectors(self.library, self.key, modalities[part], rows[part])
            )
        return coords, anchors

    def _lay_out(self, ids, modalities, rows, generation: int, on_preview, cancelled) -> Projection:
        rng = np.random.default_rng(0)
        picks = (
            np.sort(rng.choice(len(ids), size=self.sample, replace=False))
            if len(ids) > self.sample
            else np.arange(len(ids))
        )
        sample = _vectors(self.library, self.key, modalities[picks], rows[picks])
        mean, basis = pca_basis(sample, PLACE_DIMS)
        if on_preview:
            plane = np.ascontiguousarray(basis[:, :2], np.float32)
            preview = np.empty((len(ids), 2), np.float32)
            for start in range(0, len(ids), _CHUNK):
                part = slice(start, start + _CHUNK)
                preview[part] = _projected(self.library, self.key, modalities[part], rows[part], plane)
            preview -= mean @ plane
            on_preview(Projection(ids, modalities, preview, PCA, generation))
        method = UMAP if len(sample) > UMAP_NEIGHBOURS + 1 else PCA  # too few points for UMAP: PCA, named so
        if method == PCA:
            sample_coords = pca_coords(sample)
        else:
            sample_coords = umap_coords_apart(sample, cancelled) if self.apart else umap_coords(sample)
        layout = Layout(ids[picks], np.empty((0, 0), np.float32), sample_coords, mean, basis)
        layout.sample_reduced = layout.reduce(sample)
        self.layout = layout
        coords = np.empty((len(ids), 2), np.float32)
        anchors = np.empty(len(ids), np.int64)
        coords[picks], anchors[picks] = sample_coords, np.arange(len(picks))
        rest = np.ones(len(ids), bool)
        rest[picks] = False
        if rest.any():
            coords[rest], anchors[rest] = self._place_chunks(modalities[rest], rows[rest])
        projection = Projection(ids, modalities, coords, method, generation)
        self._save(projection, rows, anchors)
        return projection

    def _save(self, projection: Projection, rows: np.ndarray, anchors: np.ndarray) -> None:
        """Saved with its generation (``engine.cache``); a failed save leaves the map shown, made again next time."""
        self.anchors, self._rows = anchors, rows
        layout = self.layout
        arrays = {
            "ids": projection.ids,
            "modalities": projection.modalities,
            "coords": projection.coords,
            "method": np.array(projection.method),
            "generation": np.array(projection.generation),
            "rows": rows,
            "anchors": anchors,
            "sample_ids": layout.sample_ids,
            "sample_reduced": layout.sample_reduced,
            "sample_coords": layout.sample_coords,
            "mean": layout.mean,
            "basis": layout.basis,
        }
        save_atomically(self.path, lambda path: np.savez(path, **arrays), suffix=".npz")

    def place(self, vector: np.ndarray) -> tuple[float, float] | None:
        """Where a query vector lands on the current map."""
        if self.layout is None or not len(self.layout.sample_ids):
            return None
        coords, _ = self.layout.place(np.asarray(vector, np.float32)[None])
        return float(coords[0, 0]), float(coords[0, 1])

    def clusters(self, projection: Projection, method: str) -> Clustering:
        """A cluster per point of ``projection`` (the map this maker computed). K-means: found on the sample in the
        PCA space, spread by each point's anchor. HDBSCAN: found on an even sample of the layout (at most
        ``HDBSCAN_POINTS``), each point taking the cluster of its nearest sampled point on the map."""
        if method == "kmeans":
            return Clustering(kmeans(self.layout.sample_reduced)[self.anchors])
        if method != "hdbscan":
            raise ValueError(f"unknown clustering {method!r} (kmeans or hdbscan)")
        from scipy.spatial import cKDTree

        layout = self.layout.sample_coords
        core = layout[:: max(1, -(-len(layout) // HDBSCAN_POINTS))]
        if len(core) < HDBSCAN_LEAST:
            note = f"HDBSCAN needs at least {HDBSCAN_LEAST} points on the map, not {len(core)}; try k-means"
            return Clustering(np.full(len(projection), -1, np.int64), note)
        labels = hdbscan(core)
        _, nearest = cKDTree(core).query(projection.coords, workers=-1)
        labels = labels[nearest]
        if not (labels >= 0).any():
            note = f"HDBSCAN found no dense groups in the {len(core):,}-point sample of the map; try k-means"
            return Clustering(labels, note)
        return Clustering(labels)

    def sample_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the sampled points, for naming clusters."""
        ids, modalities, rows, _ = self.library.embedded_rows(self.key)
        where = {i: n for n, i in enumerate(ids.tolist())}
        chosen = np.array([where[i] for i in self.layout.sample_ids.tolist() if i in where], np.int64)
        return ids[chosen], _vectors(self.library, self.key, modalities[chosen], rows[chosen])


@dataclass
class Clustering:
    """A cluster per point (-1: in no dense group, "unclustered"), and why there are none when there are none."""

    labels: np.ndarray
    note: str = ""


def hdbscan(points: np.ndarray) -> np.ndarray:
    """HDBSCAN labels (-1 = noise), with clusters of at least 1% of the points (at least 5); fewer points than that
    are all noise (HDBSCAN itself refuses them)."""
    from sklearn.cluster import HDBSCAN

    smallest = max(5, len(points) // 100)
    if len(points) < smallest:
        return np.full(len(points), -1, np.int64)
    return HDBSCAN(min_cluster_size=smallest, metric="euclidean", copy=True).fit_predict(points)


def kmeans(vectors: np.ndarray, count: int | None = None, seed: int = 0) -> np.ndarray:
    """K-means labels per point, ``count`` clusters (default ~sqrt(N/2), at most 50)."""
    from sklearn.cluster import MiniBatchKMeans

    count = count or max(2, min(50, int(np.sqrt(len(vectors) / 2))))
    count = min(count, len(vectors))
    return MiniBatchKMeans(n_clusters=count, random_state=seed, n_init=3).fit_predict(vectors)


def name_clusters(
    vectors: np.ndarray, assignments: np.ndarray, label_vectors: np.ndarray, labels: list[str], top: int = 3
) -> dict[int, list[tuple[str, float]]]:
    """For each cluster, the ``top`` labels whose text embeddings are nearest its normalised centroid."""
    names = {}
    for cluster_id in sorted(set(assignments.tolist()) - {-1}):
        centroid = vectors[assignments == cluster_id].mean(axis=0)
        centroid /= np.linalg.norm(centroid) + 1e-12
        scores = label_vectors @ centroid
        best = np.argsort(-scores)[:top]
        names[cluster_id] = [(labels[i], float(scores[i])) for i in best]
    return names
