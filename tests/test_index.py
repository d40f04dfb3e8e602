from __future__ import annotations

import numpy as np

from engine.index import VectorIndex, build_search_index
from engine.modality import Modality


def clustered(count: int, dim: int = 64, clusters: int = 50, seed: int = 0) -> np.ndarray:
    """Unit vectors around cluster centres, like real embeddings (not uniform noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    vectors = centres[rng.integers(clusters, size=count)] + 0.6 * rng.normal(size=(count, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_exact_search_per_modality_and_merged():
    vectors = clustered(300, 16)
    modalities = np.array(["vision", "audio", "text"] * 100)
    ids = np.arange(1000, 1300)
    index = VectorIndex.build(ids, modalities, vectors)
    query = vectors[0]
    results = index.search(query, k=5)
    assert set(results) == {Modality.VISION, Modality.AUDIO, Modality.TEXT}
    for modality, hits in results.items():
        rows = np.flatnonzero(modalities == modality.value)
        expected = ids[rows[np.argsort(-(vectors[rows] @ query))[:5]]]
        assert [h.item_id for h in hits] == expected.tolist()
        assert all(h.modality is modality for h in hits)
    assert results[Modality.VISION][0].item_id == 1000 and abs(results[Modality.VISION][0].score - 1) < 1e-5
    merged = index.search_all(query, k=5, exclude={1000})
    assert 1000 not in [h.item_id for h in merged]
    assert [h.score for h in merged] == sorted((h.score for h in merged), reverse=True)
    assert index.search(query, k=3, modalities=[Modality.DEPTH]) == {Modality.DEPTH: []}


def test_approximate_index_recall_against_exact():
    vectors = clustered(20_000, 64, clusters=200)
    queries = clustered(200, 64, clusters=200, seed=1)
    exact = build_search_index(vectors, approximate_from=10**9)
    approximate = build_search_index(vectors, approximate_from=1000)
    assert type(approximate).__name__ == "IndexIVFFlat"
    _, truth = exact.search(queries, 10)
    _, found = approximate.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    assert recall >= 0.95, recall


def test_cache_round_trip_and_staleness(tmp_path):
    vectors = clustered(50, 8)
    index = VectorIndex.build(np.arange(50), np.array(["vision"] * 25 + ["depth"] * 25), vectors)
    index.save(tmp_path / "idx", "token-1")
    loaded = VectorIndex.load(tmp_path / "idx", "token-1")
    assert loaded is not None and loaded.counts() == {Modality.VISION: 25, Modality.DEPTH: 25}
    assert loaded.search(vectors[3], 3) == index.search(vectors[3], 3)
    assert VectorIndex.load(tmp_path / "idx", "token-2") is None
    assert VectorIndex.load(tmp_path / "missing", "token-1") is None


def test_exact_index_matches_brute_force_and_handles_k_beyond_count():
    vectors = clustered(40, 8)
    queries = clustered(5, 8, seed=3)
    index = build_search_index(vectors)
    assert type(index).__name__ == "ExactIndex" and index.ntotal == 40
    scores, rows = index.search(queries, 7)
    expected = np.argsort(-(queries @ vectors.T), axis=1)[:, :7]
    assert (rows == expected).all()
    assert np.allclose(scores, np.take_along_axis(queries @ vectors.T, expected, axis=1), atol=1e-6)
    scores, rows = index.search(queries[:1], 100)
    assert sorted(rows[0].tolist()) == list(range(40)) and (np.diff(scores[0]) <= 0).all()


def test_saved_approximate_index_loads_as_approximate(tmp_path):
    vectors = clustered(3000, 16)
    index = VectorIndex.build(np.arange(3000), np.array(["audio"] * 3000), vectors, approximate_from=1000)
    index.save(tmp_path / "idx", "t")
    loaded = VectorIndex.load(tmp_path / "idx", "t")
    assert loaded.search(vectors[7], 5) == index.search(vectors[7], 5)
    assert (tmp_path / "idx" / "audio.faiss").exists() and not (tmp_path / "idx" / "audio.vectors.npy").exists()
