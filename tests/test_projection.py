from __future__ import annotations

import time

import numpy as np
import pytest

from engine.projection import PCA, UMAP, MapMaker, Projection, cluster, name_clusters, pca_coords, place
from tests.test_index import clustered


def test_map_has_one_point_per_item_and_is_cached(tmp_path):
    vectors = clustered(300, 32, clusters=6)
    ids, modalities = np.arange(300), np.array(["vision", "audio", "depth"] * 100)
    previews = []
    maker = MapMaker(tmp_path, "model-a")
    first = maker.compute(ids, modalities, vectors, "state-1", on_preview=previews.append)
    assert previews[0].method == PCA and len(previews[0]) == 300
    assert first.method == UMAP and first.coords.shape == (300, 2) and np.isfinite(first.coords).all()
    again = maker.compute(ids, modalities, vectors, "state-1", on_preview=previews.append)
    assert len(previews) == 1 and np.array_equal(again.coords, first.coords)  # from the cache, no recompute
    assert maker.cached("state-2") is None


def test_umap_keeps_clusters_apart(tmp_path):
    rng = np.random.default_rng(3)
    truth = np.repeat(np.arange(4), 100)
    vectors = rng.normal(size=(4, 32))[truth] + 0.3 * rng.normal(size=(400, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    projection = MapMaker(tmp_path, "m").compute(np.arange(400), np.array(["vision"] * 400), vectors, "s")
    centres = np.stack([projection.coords[truth == c].mean(axis=0) for c in range(4)])
    spread = np.mean([projection.coords[truth == c].std(axis=0).mean() for c in range(4)])
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a in range(4) for b in range(a + 1, 4)]
    assert min(gaps) > spread


def test_query_lands_next_to_its_twin():
    vectors = clustered(200, 16)
    projection = Projection(np.arange(200), np.array(["vision"] * 200), pca_coords(vectors), PCA)
    spot = place(vectors[17], projection, vectors)
    distances = np.linalg.norm(projection.coords - spot, axis=1)
    assert np.argmin(distances) == 17 or distances[17] < np.median(distances) / 10


def test_clusters_and_their_names():
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[:3]
    vectors = np.concatenate([c + 0.05 * rng.normal(size=(50, 8)) for c in centres]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assignments = cluster(vectors, "kmeans", count=3)
    assert len(set(assignments.tolist())) == 3
    names = name_clusters(vectors, assignments, centres, ["first", "second", "third"], top=1)
    assert sorted(label for [(label, _)] in names.values()) == ["first", "second", "third"]
    assert set(cluster(vectors, "hdbscan").tolist()) - {-1}


def test_neighbour_graph_is_exact_with_each_point_first(monkeypatch):
    import engine.projection as projection

    vectors = clustered(500, 16, clusters=5)
    truth = np.argsort(-(vectors @ vectors.T), axis=1)[:, :8]
    rows, distances = projection.neighbour_graph(vectors, 8, chunk=64)
    assert (rows[:, 0] == np.arange(500)).all() and np.allclose(distances[:, 0], 0, atol=1e-5)
    assert (rows == truth).all() and (np.diff(distances, axis=1) >= 0).all()
    monkeypatch.setattr(projection, "KNN_EXACT_UP_TO", 100)  # the approximate graph of large libraries
    rows, _ = projection.neighbour_graph(vectors, 8)
    assert np.mean([len(set(r) & set(t)) / 8 for r, t in zip(rows, truth, strict=True)]) >= 0.9


def test_umap_apart_matches_umap_in_process_and_carries_errors(tmp_path):
    from engine.projection import umap_coords, umap_coords_apart

    vectors = clustered(200, 16, clusters=4)
    assert np.allclose(umap_coords_apart(vectors), umap_coords(vectors), atol=1e-3)
    broken = vectors.copy()
    broken[5] = np.nan
    with pytest.raises(RuntimeError, match="UMAP failed"):
        umap_coords_apart(broken)
    projection = MapMaker(tmp_path, "m", apart=True).compute(np.arange(200), np.array(["text"] * 200), vectors, "s")
    assert projection.method == UMAP and projection.coords.shape == (200, 2)


def test_umap_apart_stops_its_child_when_cancelled():
    import multiprocessing

    from engine.projection import MapCancelled, umap_coords_apart

    start = time.perf_counter()
    with pytest.raises(MapCancelled):
        umap_coords_apart(clustered(2000, 32), cancelled=lambda: time.perf_counter() - start > 0.5)
    assert time.perf_counter() - start < 5
    assert not [c for c in multiprocessing.active_children() if c.name == "bindscope-umap"]
