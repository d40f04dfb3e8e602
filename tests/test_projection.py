from __future__ import annotations

import time

import numpy as np
import pytest

from engine.exchange import import_embeddings
from engine.projection import PCA, UMAP, MapMaker, kmeans, name_clusters
from tests.libraries import clustered, library_of, shard


def make(tmp_path, vectors, modalities, **options):
    library = library_of(tmp_path, vectors, modalities)
    return library, MapMaker(library, library.model.key, **options)


def test_map_has_one_point_per_item_and_is_cached(tmp_path):
    vectors = clustered(300, 32, clusters=6)
    library, maker = make(tmp_path, vectors, ["vision", "audio", "depth"] * 100)
    previews = []
    first = maker.compute(on_preview=previews.append)
    assert previews[0].method == PCA and len(previews[0]) == 300
    assert first.method == UMAP and first.coords.shape == (300, 2) and np.isfinite(first.coords).all()
    assert first.ids.tolist() == list(range(1, 301))
    again = MapMaker(library, library.model.key).compute(on_preview=previews.append)
    assert len(previews) == 1 and np.array_equal(again.coords, first.coords)  # from the cache, no recompute


def test_umap_keeps_clusters_apart(tmp_path):
    rng = np.random.default_rng(3)
    truth = np.repeat(np.arange(4), 100)
    vectors = rng.normal(size=(4, 32))[truth] + 0.3 * rng.normal(size=(400, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    _, maker = make(tmp_path, vectors, ["vision"] * 400)
    projection = maker.compute()
    centres = np.stack([projection.coords[truth == c].mean(axis=0) for c in range(4)])
    spread = np.mean([projection.coords[truth == c].std(axis=0).mean() for c in range(4)])
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a in range(4) for b in range(a + 1, 4)]
    assert min(gaps) > spread


def test_points_beyond_the_sample_land_with_their_cluster(tmp_path):
    rng = np.random.default_rng(5)
    truth = np.repeat(np.arange(4), 150)
    vectors = rng.normal(size=(4, 32))[truth] + 0.3 * rng.normal(size=(600, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    _, maker = make(tmp_path, vectors, ["vision"] * 600, sample=200)
    projection = maker.compute()
    assert len(maker.layout.sample_ids) == 200 and len(projection) == 600
    centres = np.stack([projection.coords[truth == c].mean(axis=0) for c in range(4)])
    nearest = np.argmin(np.linalg.norm(projection.coords[:, None] - centres[None], axis=2), axis=1)
    assert (nearest == truth).mean() > 0.95


def test_a_small_change_updates_the_map_in_place(tmp_path):
    vectors = clustered(330, 16, clusters=5)
    library, maker = make(tmp_path, vectors[:300], ["text"] * 300)
    first = maker.compute()
    import_embeddings(library, shard(tmp_path / "more.parquet", vectors[300:], ["text"] * 30, library.model, first=300))
    previews = []
    updated = maker.compute(on_preview=previews.append)
    assert not previews and updated.method == UMAP and len(updated) == 330  # placed, not laid out again
    assert np.array_equal(updated.coords[:300], first.coords)
    twin = int(np.argmax(vectors[:300] @ vectors[310]))
    assert np.linalg.norm(updated.coords[310] - first.coords[twin]) < np.ptp(first.coords, axis=0).max() / 4


def test_query_lands_next_to_its_twin(tmp_path):
    vectors = clustered(200, 16)
    _, maker = make(tmp_path, vectors, ["vision"] * 200)
    projection = maker.compute()
    spot = maker.place(vectors[17])
    distances = np.linalg.norm(projection.coords - spot, axis=1)
    assert np.argmin(distances) == 17 or distances[17] < np.median(distances) / 10


def test_clusters_and_their_names(tmp_path):
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[:3]
    vectors = np.concatenate([c + 0.05 * rng.normal(size=(50, 8)) for c in centres]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assignments = kmeans(vectors, count=3)
    assert len(set(assignments.tolist())) == 3
    names = name_clusters(vectors, assignments, centres, ["first", "second", "third"], top=1)
    assert sorted(label for [(label, _)] in names.values()) == ["first", "second", "third"]
    _, maker = make(tmp_path, vectors, ["vision"] * 150)
    projection = maker.compute()
    per_point = maker.clusters(projection, "kmeans").labels
    assert len(per_point) == 150 and len(set(per_point.tolist())) >= 2


def test_neighbour_graph_is_exact_with_each_point_first(monkeypatch):
    import engine.projection as projection

    vectors = clustered(500, 16, clusters=5)
    truth = np.argsort(-(vectors @ vectors.T), axis=1)[:, :8]
    rows, distances = projection.neighbour_graph(vectors, 8, chunk=64)
    assert (rows[:, 0] == np.arange(500)).all() and np.allclose(distances[:, 0], 0, atol=1e-5)
    assert (rows == truth).mean() > 0.99 and (np.diff(distances, axis=1) >= -1e-6).all()
    monkeypatch.setattr(projection, "KNN_EXACT_UP_TO", 100)  # the approximate graph of large libraries
    rows, _ = projection.neighbour_graph(vectors, 8)
    assert np.mean([len(set(r) & set(t)) / 8 for r, t in zip(rows, truth, strict=True)]) >= 0.9


def test_umap_apart_matches_umap_in_process_and_carries_errors(tmp_path):
    from engine.projection import umap_coords, umap_coords_apart

    vectors = clustered(200, 16, clusters=4)
    _, maker = make(tmp_path, vectors, ["text"] * 200, apart=True)
    projection = maker.compute()  # every point is in the sample: its coordinates are UMAP's own, from the child
    assert projection.method == UMAP and projection.ids.tolist() == list(range(1, 201))
    assert np.allclose(projection.coords, umap_coords(vectors), atol=1e-3)
    broken = vectors.copy()
    broken[5] = np.nan
    with pytest.raises(RuntimeError, match="UMAP failed"):
        umap_coords_apart(broken)


def test_umap_apart_stops_its_child_when_cancelled():
    import multiprocessing

    from engine.projection import MapCancelled, umap_coords_apart

    start = time.perf_counter()
    with pytest.raises(MapCancelled):
        umap_coords_apart(clustered(2000, 32), cancelled=lambda: time.perf_counter() - start > 0.5)
    assert time.perf_counter() - start < 5
    assert not [c for c in multiprocessing.active_children() if c.name == "bindscope-umap"]


def test_hdbscan_clusters_a_sample_of_the_layout_and_spreads_by_nearest_sampled_point(tmp_path, monkeypatch):
    import engine.projection as projection_module

    seen = []
    real = projection_module.hdbscan
    monkeypatch.setattr(projection_module, "HDBSCAN_POINTS", 60)
    monkeypatch.setattr(projection_module, "hdbscan", lambda points: seen.append(points) or real(points))
    _, maker = make(tmp_path, clustered(300, 32, clusters=3), ["vision"] * 300)
    projection = maker.compute()
    found = maker.clusters(projection, "hdbscan")
    [core] = seen
    assert len(core) <= 60 and np.isin(core, maker.layout.sample_coords).all()  # points of the map, not vectors
    assert found.note == "" and len(found.labels) == 300 and (found.labels >= 0).any()
    nearest = np.argmin(((projection.coords[:, None, :] - core[None]) ** 2).sum(axis=2), axis=1)
    assert np.array_equal(found.labels, real(core)[nearest])


def test_hdbscan_says_why_when_it_finds_no_cluster(tmp_path):
    _, maker = make(tmp_path, clustered(120, 16, clusters=2), ["vision"] * 120)
    projection = maker.compute()
    maker.layout.sample_coords[:] = 0  # every sampled point on one spot: no density stands out
    projection.coords[:] = 0
    found = maker.clusters(projection, "hdbscan")
    assert (found.labels == -1).all()
    assert found.note == "HDBSCAN found no dense groups in the 120-point sample of the map; try k-means"
    _, few = make(tmp_path / "few", clustered(6, 16, clusters=2), ["vision"] * 6)
    assert "at least 10 points" in few.clusters(few.compute(), "hdbscan").note
