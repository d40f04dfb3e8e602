from __future__ import annotations

import numpy as np
import pytest

from engine.indexer import embed_pending, scan
from engine.library import Library
from engine.modality import Modality
from engine.query import QueryError, Searcher, Term, compose


@pytest.fixture()
def indexed(tmp_path, world, tiny_model):
    library = Library(tmp_path / "lib")
    scan(library, world)
    embed_pending(library, tiny_model)
    return library


def test_compose_matches_hand_computation():
    a, b, c = (np.eye(4, dtype=np.float32)[i] for i in range(3))
    expected = np.array([1.0, 0.5, -0.25, 0.0])
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(compose([a, b, c], [1.0, 0.5, -0.25]), expected, atol=1e-6)
    with pytest.raises(QueryError, match="cancel out"):
        compose([a, a], [1.0, -1.0])


def test_single_item_search_excludes_itself_and_ranks_by_cosine(indexed, tiny_model):
    searcher = Searcher(indexed, tiny_model)
    photo = indexed.items(modality=Modality.VISION)[0]
    results = searcher.search([Term.item(photo.id)], k=5)
    ids, modalities, vectors, _ = indexed.embeddings(tiny_model.name)
    query = vectors[list(ids).index(photo.id)]
    for modality, hits in results.by_modality.items():
        assert photo.id not in [h.item_id for h in hits]
        rows = [r for r in range(len(ids)) if modalities[r] == modality.value and ids[r] != photo.id]
        expected = sorted(rows, key=lambda r: -float(vectors[r] @ query))[:5]
        assert [h.item_id for h in hits] == [int(ids[r]) for r in expected]
    assert len(results.merged) == 5


def test_composition_with_positive_and_negative_weights(indexed, tiny_model, world):
    searcher = Searcher(indexed, tiny_model)
    photo = indexed.items(modality=Modality.VISION)[0]
    sound = sorted((world / "audio").iterdir())[3]
    terms = [Term.item(photo.id, 1.0), Term.file(sound, 0.6), Term.text("a dog in the park", -0.4)]
    results = searcher.search(terms, k=3, modalities=[Modality.THERMAL, Modality.DEPTH])
    parts = [searcher.embed_term(t) for t in terms]
    by_hand = 1.0 * parts[0].vector + 0.6 * parts[1].vector - 0.4 * parts[2].vector
    np.testing.assert_allclose(results.vector, by_hand / np.linalg.norm(by_hand), atol=1e-5)
    assert set(results.by_modality) == {Modality.THERMAL, Modality.DEPTH}
    assert [e.modality for e in results.terms] == [Modality.VISION, Modality.AUDIO, Modality.TEXT]


def test_outside_file_of_any_modality(indexed, tiny_model, world):
    searcher = Searcher(indexed, tiny_model)
    imu = sorted((world / "imu").iterdir())[0]
    results = searcher.search([Term.file(imu)], k=2)
    assert results.terms[0].modality is Modality.IMU and results.merged


def test_bad_query_file_is_a_typed_error(indexed, tiny_model, tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFF0000WAVE")
    with pytest.raises(QueryError, match="broken.wav") as info:
        Searcher(indexed, tiny_model).search([Term.file(tmp_path / "broken.wav")])
    assert info.value.cause is not None


def test_zero_shot_probabilities(indexed, tiny_model):
    searcher = Searcher(indexed, tiny_model)
    sound = indexed.items(modality=Modality.AUDIO)[0]
    ranked = searcher.classify(Term.item(sound.id), ["dog", "rain", "bell", "dog"])
    assert [label for label, _ in ranked] == sorted(["dog", "rain", "bell"], key=dict(ranked).get, reverse=True)
    assert abs(sum(p for _, p in ranked) - 1.0) < 1e-5
    embedded = searcher.embed_term(Term.item(sound.id))
    labels, text_scale = searcher.label_embeddings(["dog", "rain", "bell"])
    logits = (embedded.vector * embedded.scale) @ (labels * text_scale).T
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose([dict(ranked)[k] for k in ("dog", "rain", "bell")], expected, atol=1e-5)


def test_item_only_queries_need_no_model(indexed, tiny_model):
    searcher = Searcher(indexed)
    photo = indexed.items(modality=Modality.VISION)[0]
    assert searcher.search([Term.item(photo.id)], k=3).merged
    with pytest.raises(QueryError, match="need a loaded model"):
        searcher.search([Term.text("a dog")])


def test_index_cache_follows_library_changes(indexed, tiny_model):
    searcher = Searcher(indexed, tiny_model)
    before = len(searcher.index())
    indexed.add_texts(["a brand new caption"])
    embed_pending(indexed, tiny_model)
    assert len(searcher.index()) == before + 1
