"""A 2-D map of a library's embeddings: a PCA preview at once, then UMAP (cosine), cached.

The UMAP layout is cached beside the library under the library's state token and recomputed
only when the embedded items change. A query is placed on the map at the similarity-weighted
mean of its nearest mapped items, which is where UMAP's own ``transform`` starts its
optimisation; it is instant and the same in every session, and needs no pickled reducer.
Clusters (k-means or HDBSCAN) can be named by the nearest labels of a user's label list.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.index import build_search_index

PCA, UMAP = "pca", "umap"
UMAP_NEIGHBOURS = 30  # with min_dist 0.4: clusters read as blobs rather than specks
UMAP_EPOCHS = 200
KNN_EXACT_UP_TO = 20_000  # exact neighbour graph: 10k points in ~2.5 s on 2 cores; IVF above


@dataclass
class Projection:
    ids: np.ndarray
    modalities: np.ndarray
    coords: np.ndarray  # [N, 2] float32
    method: str

    def __len__(self) -> int:
        return len(self.ids)


def pca_coords(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """The two leading principal components by randomised SVD with two power iterations: a preview,
    under a second for 50k points (sklearn's automatic seven iterations take 1.2 s for little visible gain)."""
    if len(vectors) < 3:
        return np.zeros((len(vectors), 2), np.float32)
    from sklearn.decomposition import PCA as _PCA

    return (
        _PCA(n_components=2, svd_solver="randomized", iterated_power=2, random_state=seed)
        .fit_transform(vectors)
        .astype(np.float32)
    )


def neighbour_graph(vectors: np.ndarray, k: int, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Each point's ``k`` nearest neighbours (itself included) and cosine distances, found with the
    library's own search index: exact BLAS search up to ``KNN_EXACT_UP_TO`` points, IVF above.
    UMAP's own pynndescent spends ~20 s compiling with Numba in every new process before it starts."""
    vectors = np.ascontiguousarray(vectors, np.float32)
    index = build_search_index(vectors, approximate_from=KNN_EXACT_UP_TO)
    scores, rows = zip(
        *(index.search(vectors[start : start + chunk], k) for start in range(0, len(vectors), chunk)), strict=True
    )
    return np.concatenate(rows), np.clip(1.0 - np.concatenate(scores), 0.0, 2.0)


def umap_coords(
    vectors: np.ndarray, n_neighbors: int = UMAP_NEIGHBOURS, min_dist: float = 0.4, seed: int | None = 0
) -> np.ndarray:
    """UMAP with the cosine metric over a precomputed neighbour graph, 200 epochs (UMAP's own choice
    above 10k points; 500 below would double the time); fewer points than neighbours fall back to PCA."""
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
    """Projections of one library for one model, cached by the library's state token. ``apart``
    runs UMAP in a child process (see ``umap_coords_apart``), as the desktop app needs."""

    def __init__(self, cache_dir: Path, model_name: str, apart: bool = False):
        self.apart = apart
        digest = hashlib.blake2b(model_name.encode(), digest_size=6).hexdigest()
        self.path = cache_dir / f"map-{digest}.npz"

    def cached(self, token: str) -> Projection | None:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                if str(data["token"]) != token:
                    return None
                return Projection(data["ids"], data["modalities"], data["coords"], str(data["method"]))
        except (OSError, KeyError, ValueError):
            return None

    def compute(
        self,
        ids: np.ndarray,
        modalities: np.ndarray,
        vectors: np.ndarray,
        token: str,
        on_preview: Callable[[Projection], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> Projection:
        """The cached UMAP if current; else a PCA preview (handed to ``on_preview``), then UMAP, saved."""
        cached = self.cached(token)
        if cached is not None:
            return cached
        if on_preview:
            on_preview(Projection(ids, modalities, pca_coords(vectors), PCA))
        method = UMAP if len(vectors) > UMAP_NEIGHBOURS + 1 else PCA  # too few points for UMAP: PCA, named so
        coords = umap_coords_apart(vectors, cancelled) if self.apart and method == UMAP else umap_coords(vectors)
        projection = Projection(ids, modalities, coords, method)
        temporary = self.path.with_suffix(".tmp.npz")
        np.savez(
            temporary,
            ids=ids,
            modalities=modalities,
            coords=projection.coords,
            method=np.array(method),
            token=np.array(token),
        )
        temporary.replace(self.path)
        return projection


def place(
    query: np.ndarray, projection: Projection, vectors: np.ndarray, k: int = 10, sharpness: float = 20.0
) -> np.ndarray:
    """Map coordinates for a query vector: the similarity-weighted mean of its ``k`` nearest mapped items
    that lie near the best one on the map (a query matching two distant clusters lands on the better
    one, not in the empty space between them)."""
    similarities = vectors @ np.asarray(query, np.float32)
    nearest = np.argsort(-similarities)[: min(k, len(similarities))]
    coords = projection.coords[nearest]
    span = float(np.ptp(projection.coords, axis=0).max()) or 1.0
    close = np.linalg.norm(coords - coords[0], axis=1) <= 0.05 * span
    weights = np.exp(sharpness * (similarities[nearest] - similarities[nearest].max())) * close
    return (weights[:, None] * coords).sum(axis=0) / weights.sum()


def cluster(vectors: np.ndarray, method: str = "kmeans", count: int | None = None, seed: int = 0) -> np.ndarray:
    """Cluster labels per point: k-means (``count`` clusters, default ~sqrt(N/2)) or HDBSCAN (-1 = noise)."""
    if method == "hdbscan":
        from sklearn.cluster import HDBSCAN

        return HDBSCAN(min_cluster_size=max(5, len(vectors) // 100), metric="euclidean", copy=True).fit_predict(vectors)
    if method != "kmeans":
        raise ValueError(f"unknown clustering {method!r} (kmeans or hdbscan)")
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
