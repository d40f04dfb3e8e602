from __future__ import annotations

import numpy as np
import pytest

from engine.modality import Modality
from engine.query import QueryError, Term, compose
from tests.libraries import stored_vectors


@pytest.fixture()
def indexed(make_workspace, world):
    return make_workspace(world)


def test_compose_matches_hand_computation():
    a, b, c = (np.eye(4, dtype=np.float32)[i] for i in range(3))
    expected = np.array([1.0, 0.5, -0.25, 0.0])
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(compose([a, b, c], [1.0, 0.5, -0.25]), expected, atol=1e-6)
    with pytest.raises(QueryError, match="cancel out"):
        compose([a, a], [1.0, -1.0])
    with pytest.raises(QueryError, match="finite"):
        compose([a, b], [1.0, float("nan")])


def test_single_item_search_excludes_itself_and_ranks_by_cosine(indexed):
    library = indexed.library
    photo = library.items(modality=Modality.VISION)[0]
    results = indexed.searcher().search([Term.item(photo.id)], k=5)
    ids, modalities, vectors = stored_vectors(library)
    query = vectors[list(ids).index(photo.id)]
    for modality, hits in results.by_modality.items():
        assert photo.id not in [h.item_id for h in hits]
        rows = [r for r in range(len(ids)) if modalities[r] == modality.value and ids[r] != photo.id]
        expected = sorted(rows, key=lambda r: -float(vectors[r] @ query))[:5]
        assert [h.item_id for h in hits] == [int(ids[r]) for r in expected]
    assert len(results.merged) == 5
    with pytest.raises(QueryError, match="at least 1"):
        indexed.searcher().search([Term.item(photo.id)], k=0)


def test_composition_with_positive_and_negative_weights(indexed, world):
    searcher = indexed.searcher()
    photo = indexed.library.items(modality=Modality.VISION)[0]
    sound = sorted((world / "audio").iterdir())[3]
    terms = [Term.item(photo.id, 1.0), Term.file(sound, 0.6), Term.text("a dog in the park", -0.4)]
    results = searcher.search(terms, k=3, modalities=[Modality.THERMAL, Modality.DEPTH])
    parts = [searcher.embed_term(t) for t in terms]
    by_hand = 1.0 * parts[0].vector + 0.6 * parts[1].vector - 0.4 * parts[2].vector
    np.testing.assert_allclose(results.vector, by_hand / np.linalg.norm(by_hand), atol=1e-5)
    assert set(results.by_modality) == {Modality.THERMAL, Modality.DEPTH}
    assert [e.modality for e in results.terms] == [Modality.VISION, Modality.AUDIO, Modality.TEXT]


def test_outside_file_of_any_modality(indexed, tmp_path, world):
    import shutil

    outside = tmp_path / "elsewhere" / "walk_imu.csv"
    outside.parent.mkdir()
    shutil.copy(sorted((world / "imu").iterdir())[0], outside)
    outside.write_text(outside.read_text().replace("\n1", "\n2", 1))  # not a copy of a library file
    results = indexed.searcher().search([Term.file(outside)], k=2)
    assert results.terms[0].modality is Modality.IMU and results.terms[0].item_id is None and results.merged


def test_library_files_and_their_copies_use_the_stored_embedding(indexed, tmp_path, world, monkeypatch):
    import shutil

    searcher = indexed.searcher()
    monkeypatch.setattr(searcher, "_encoder", lambda what: pytest.fail(f"encoded {what}"))
    photo = sorted((world / "images").iterdir())[2]
    copy = tmp_path / "copy" / photo.name
    copy.parent.mkdir()
    shutil.copy(photo, copy)
    item = indexed.library.item_by_path(photo)
    stored = indexed.library.embedding(item.id, indexed.library.model.key)
    for path in (photo, copy):
        embedded = searcher.embed_term(Term.file(path))
        np.testing.assert_array_equal(embedded.vector, stored[0])
    assert searcher.embed_term(Term.file(photo)).item_id == item.id


def test_moving_a_weight_never_encodes_again(indexed, world):
    searcher = indexed.searcher()
    sound = sorted((world / "audio").iterdir())[0]
    searcher.search([Term.text("rain on a roof"), Term.file(sound, 0.5)], k=2)
    encoded = []
    searcher._encoder = lambda what: encoded.append(what)
    for weight in (0.1, 0.4, -0.7):
        searcher.search([Term.text("rain on a roof", weight), Term.file(sound, 0.5)], k=2)
    assert encoded == []


def test_bad_query_file_is_a_typed_error(indexed, tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFF0000WAVE")
    with pytest.raises(QueryError, match="broken.wav") as info:
        indexed.searcher().search([Term.file(tmp_path / "broken.wav")])
    assert info.value.cause is not None


def test_zero_shot_probabilities_and_stored_label_vectors(indexed):
    searcher = indexed.searcher()
    sound = indexed.library.items(modality=Modality.AUDIO)[0]
    ranked = searcher.classify(Term.item(sound.id), ["dog", "rain", "bell", "dog"])
    assert [label for label, _ in ranked] == sorted(["dog", "rain", "bell"], key=dict(ranked).get, reverse=True)
    assert abs(sum(p for _, p in ranked) - 1.0) < 1e-5
    embedded = searcher.embed_term(Term.item(sound.id))
    labels, scales = searcher.label_embeddings(["dog", "rain", "bell"])
    logits = (embedded.vector * embedded.scale) @ (labels * scales[:, None]).T
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose([dict(ranked)[k] for k in ("dog", "rain", "bell")], expected, atol=1e-5)
    searcher._encoder = lambda what: pytest.fail("stored label vectors are used, not encoded again")
    again = dict(searcher.classify(Term.item(sound.id), ["bell", "rain", "dog"]))
    assert again == pytest.approx(dict(ranked), abs=1e-6)


def test_search_sees_new_items_at_once(indexed):
    searcher = indexed.searcher()
    before = sum(len(v) for v in searcher.search([Term.text("a new caption")], k=1000).by_modality.values())
    indexed.library.add_texts(["a brand new caption"])
    indexed.embed()
    after = searcher.search([Term.text("a new caption")], k=1000)
    assert sum(len(v) for v in after.by_modality.values()) == before + 1
