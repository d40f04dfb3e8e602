"""The search index: exact below the threshold, approximate with exact re-ranking above, never stale."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.modality import Modality
from engine.search_index import APPROXIMATE_FROM, PER_PLACE, Effort, SearchIndex
from tests.libraries import clustered, library_of, shard, synthetic_ref


def brute_force(vectors, modalities, query, modality, k, exclude=()):
    rows = [r for r in range(len(vectors)) if modalities[r] == modality and r + 1 not in exclude]
    return [r + 1 for r in sorted(rows, key=lambda r: -float(vectors[r] @ query))[:k]]


def test_exact_search_equals_brute_force_per_modality(tmp_path):
    vectors = clustered(300, 16)
    modalities = ["vision", "audio", "text"] * 100
    library = library_of(tmp_path, vectors, modalities)
    index = SearchIndex(library, library.model.key)
    query = vectors[0]
    results = index.search(query, k=5)
    assert set(results) == {Modality.VISION, Modality.AUDIO, Modality.TEXT}
    for modality, hits in results.items():
        assert [h.item_id for h in hits] == brute_force(vectors, modalities, query, modality.value, 5)
        assert all(h.modality is modality for h in hits)
        np.testing.assert_allclose(
            [h.score for h in hits], [float(vectors[h.item_id - 1] @ query) for h in hits], atol=1e-6
        )
    assert results[Modality.VISION][0].item_id == 1 and abs(results[Modality.VISION][0].score - 1) < 1e-5
    excluded = index.search(query, k=5, exclude={1})
    assert excluded[Modality.VISION][0].item_id != 1
    assert index.search(query, k=3, modalities=[Modality.DEPTH]) == {Modality.DEPTH: []}
    everything = index.search(query, k=1000, modalities=[Modality.AUDIO])[Modality.AUDIO]
    assert len(everything) == 100 and all(a.score >= b.score for a, b in pairwise(everything))


def test_approximate_index_reranks_exactly_with_high_recall(tmp_path):
    drawn = clustered(6100, 32, clusters=120)
    vectors, queries = drawn[:6000], drawn[6000:]  # queries: fresh draws from the same clusters
    modalities = ["vision"] * 6000
    library = library_of(tmp_path, vectors, modalities)
    index = SearchIndex(library, library.model.key, approximate_from=1000)
    index.maintain(final=True)
    assert index.describe()["vision"]["approximate"] == 6000
    recall = []
    for query in queries:
        hits = index.search(query, k=10)[Modality.VISION]
        truth = brute_force(vectors, modalities, query, "vision", 10)
        recall.append(len({h.item_id for h in hits} & set(truth)) / 10)
        np.testing.assert_allclose(
            [h.score for h in hits], [float(vectors[h.item_id - 1] @ query) for h in hits], atol=1e-5
        )
    assert np.mean(recall) >= 0.95, np.mean(recall)


def test_new_rows_are_found_without_a_rebuild_and_a_saved_index_is_shared(tmp_path):
    vectors = clustered(3000, 32, clusters=60)
    library = library_of(tmp_path, vectors[:2000], ["audio"] * 2000)
    writer = SearchIndex(library, library.model.key, approximate_from=1000)
    writer.maintain(final=True)
    reader = SearchIndex(library, library.model.key, approximate_from=1000)
    from engine.exchange import import_embeddings

    import_embeddings(
        library, shard(tmp_path / "more.parquet", vectors[2000:], ["audio"] * 1000, library.model, first=2000)
    )
    query = vectors[2500]
    hit = reader.search(query, k=1)[Modality.AUDIO][0]  # the new row sits in the exact tail
    assert hit.item_id == 2501 and abs(hit.score - 1) < 1e-5
    assert reader.describe()["audio"] == {
        "vectors": 3000,
        "approximate": 2000,
        "saved": reader.describe()["audio"]["saved"],
    }
    writer.maintain(final=True)
    assert reader.search(query, k=1)[Modality.AUDIO][0].item_id == 2501
    assert reader.describe()["audio"]["approximate"] == 3000  # took the writer's saved index


def test_damaged_saved_index_is_ignored(tmp_path):
    vectors = clustered(1500, 16)
    library = library_of(tmp_path, vectors, ["depth"] * 1500)
    SearchIndex(library, library.model.key, approximate_from=1000).maintain(final=True)
    folder = library.folder / "cache" / f"index-{library.model.key}"
    (folder / "depth.faiss").write_bytes(b"garbage" * 100)
    index = SearchIndex(library, library.model.key, approximate_from=1000)
    hit = index.search(vectors[42], k=1)[Modality.DEPTH][0]
    assert hit.item_id == 43 and index.describe()["depth"]["approximate"] == 0  # exact over the mapped vectors


def test_removed_items_are_skipped_and_duplicates_share_a_vector(tmp_path):
    vectors = clustered(50, 8)
    library = library_of(tmp_path, vectors, ["text"] * 50)
    index = SearchIndex(library, library.model.key)
    library.remove_paths([library.item(1).path])
    hits = index.search(vectors[0], k=3)[Modality.TEXT]
    assert 1 not in [h.item_id for h in hits] and len(hits) == 3
    ref = synthetic_ref(8)
    from engine.exchange import import_embeddings

    copy = shard(tmp_path / "copy.parquet", vectors[4:5], ["text"], ref, folder="/elsewhere")
    from engine.exchange import write

    write(
        copy,
        {"modality": ["text"], "path": ["/elsewhere/copy.text"], "scale": [1.0], "hash": ["h4"]},
        vectors[4:5],
        ref,
    )
    import_embeddings(library, copy)  # the same content (hash) at another path
    twins = index.search(vectors[4], k=2)[Modality.TEXT]
    assert sorted(h.item_id for h in twins) == [5, 51] and twins[0].score == twins[1].score


# -- the results for k are the first k of the results for a larger k ------------------------------------------

TIED = 400  # rows repeated under other hashes: other items with exactly the same vector, so equal scores


@pytest.fixture(scope="module")
def tied_library(tmp_path_factory):
    """6,000 clustered vectors and 400 exact repeats of them, an approximate index over all of them, then 400
    more rows (repeats too) in the exact tail the index does not cover yet."""
    from engine.exchange import import_embeddings

    folder = tmp_path_factory.mktemp("tied")
    drawn = clustered(6000, 32, clusters=120, seed=3)
    vectors = np.concatenate([drawn, drawn[:TIED]])
    library = library_of(folder, vectors, ["vision"] * len(vectors))
    SearchIndex(library, library.model.key, approximate_from=1000).maintain(final=True)
    tail = np.concatenate([drawn[TIED : 2 * TIED - 100], drawn[:100]])
    import_embeddings(
        library, shard(folder / "tail.parquet", tail, ["vision"] * len(tail), library.model, len(vectors))
    )
    return library, np.concatenate([vectors, tail])


def ranking(hits) -> list[tuple[int, float]]:
    return [(h.item_id, h.score) for h in hits]


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(st.integers(0, 6799), min_size=1, max_size=3),
    weights=st.lists(st.sampled_from([1.0, 0.5, -0.3]), min_size=3, max_size=3),
    ks=st.lists(st.integers(1, 600), min_size=2, max_size=2, unique=True),
    rerank=st.sampled_from([40, 200]),
)
def test_results_for_k_are_the_first_k_of_a_larger_k(tied_library, rows, weights, ks, rerank):
    """Exact, approximate (in every tier of candidates, small ``rerank``) and approximate with an exact tail."""
    library, vectors = tied_library
    query = np.sum([w * vectors[r] for r, w in zip(rows, weights, strict=False)], axis=0)
    if np.linalg.norm(query) < 1e-3:
        return
    query /= np.linalg.norm(query)
    small, large = sorted(ks)
    exclude = {rows[0] + 1}
    for index in (
        SearchIndex(library, library.model.key),  # exact: below the threshold
        SearchIndex(library, library.model.key, approximate_from=1000, effort=Effort(rerank=rerank)),
    ):
        few = ranking(index.search(query, small, exclude=exclude)[Modality.VISION])
        many = ranking(index.search(query, large, exclude=exclude)[Modality.VISION])
        assert len(few) == small and few == many[:small]
        # the first tier's places are the exact ranking of its candidates; an excluded item may hold one of them
        exact_places = rerank // PER_PLACE - len(exclude)
        assert all(a[1] > b[1] or (a[1] == b[1] and a[0] < b[0]) for a, b in pairwise(few[:exact_places]))


def test_approximate_search_with_every_candidate_equals_exact_search(tied_library):
    """Past the tiers of candidates the ranking is exact: the two regimes agree, ties included."""
    library, vectors = tied_library
    exact = SearchIndex(library, library.model.key)
    approximate = SearchIndex(library, library.model.key, approximate_from=1000, effort=Effort(rerank=2000))
    assert approximate.describe()["vision"]["approximate"] == 6400
    for row in (0, 17, 399, 4242):
        assert ranking(approximate.search(vectors[row], 150)[Modality.VISION]) == ranking(
            exact.search(vectors[row], 150)[Modality.VISION]
        )


def test_a_composed_query_ranks_the_same_top_items_whatever_k(tied_library):
    """Workspace.search, the product path, with a composed query of three weighted items (issue 17, defect 4)."""
    from engine.query import Term
    from engine.workspace import Workspace

    library, _ = tied_library
    # item 1 has two exact copies (ids 6001 and 6701), items 2-400 one (6002-6400): the top results come in ties
    terms = [Term.item(1, 1.0), Term.item(2, 0.5), Term.item(5999, -0.25)]
    for approximate_from in (1000, APPROXIMATE_FROM):
        workspace = Workspace(library, approximate_from=approximate_from)
        shown = {k: workspace.search(terms, k=k) for k in (2, 4, 100, 300)}
        assert len({h.score for h in shown[4].results.merged}) < 4
        for k in (2, 4, 100):
            for modality, hits in shown[k].results.by_modality.items():
                assert ranking(hits) == ranking(shown[300].results.by_modality[modality])[:k]
            assert ranking(shown[k].results.merged) == ranking(shown[300].results.merged)[:k]
            assert shown[k].cards() == shown[300].cards()[:k]
