"""Row 6 of issue 19, derived files: a damaged or foreign search index or map under ``cache/`` is never trusted.
It is set aside (search stays exact and right), and the next writer builds it anew."""

from __future__ import annotations

import json
import tracemalloc
import zipfile

import faiss
import numpy as np
import pytest

from engine.modality import Modality
from engine.projection import MapMaker
from engine.search_index import SearchIndex
from tests.libraries import clustered, library_of

ROWS, DIM = 300, 16


def _flat(path, vectors):
    index = faiss.IndexFlatL2(DIM)
    index.add(vectors)
    faiss.write_index(index, str(path))


def _ids_elsewhere(path, vectors):
    index = faiss.IndexIVFRaBitQ(faiss.IndexFlatL2(DIM), DIM, 16, faiss.METRIC_L2)
    index.train(vectors)
    index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64) + 10**6)
    faiss.write_index(index, str(path))


def _garbage(path, vectors):
    path.write_bytes(path.read_bytes()[:200] + b"\xff" * 64)


@pytest.mark.parametrize("damage", [_flat, _ids_elsewhere, _garbage], ids=["flat", "foreign-ids", "truncated"])
def test_a_damaged_search_index_is_set_aside_then_rebuilt(tmp_path, damage):
    vectors = clustered(ROWS, DIM)
    library = library_of(tmp_path, vectors, ["audio"] * ROWS)
    SearchIndex(library, library.model.key, approximate_from=100).maintain(final=True)
    saved = SearchIndex(library, library.model.key).folder / "audio.faiss"
    damage(saved, vectors)
    reader = SearchIndex(library, library.model.key, approximate_from=100)
    assert reader.describe()["audio"]["approximate"] == 0
    for row in (0, 150, 299):
        hits = reader.search(vectors[row], k=3)[Modality.AUDIO]
        assert [h.item_id for h in hits][:1] == [row + 1]
    SearchIndex(library, library.model.key, approximate_from=100).maintain(final=True)
    assert SearchIndex(library, library.model.key).describe()["audio"]["approximate"] == ROWS


@pytest.mark.parametrize("nprobe", [-1, 10**30, "many"])
def test_a_saved_index_with_an_impossible_nprobe_still_serves(tmp_path, nprobe):
    vectors = clustered(ROWS, DIM)
    library = library_of(tmp_path, vectors, ["audio"] * ROWS)
    SearchIndex(library, library.model.key, approximate_from=100).maintain(final=True)
    meta = SearchIndex(library, library.model.key).folder / "audio.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "nprobe": nprobe}))
    reader = SearchIndex(library, library.model.key, approximate_from=100)
    assert reader.describe()["audio"]["approximate"] == ROWS
    assert reader.search(vectors[7], k=1)[Modality.AUDIO][0].item_id == 8


def _map(tmp_path):
    library = library_of(tmp_path, clustered(20, DIM), ["vision"] * 20)
    maker = MapMaker(library, library.model.key)
    return library, maker, maker.compute()


def test_a_map_cache_with_impossible_values_is_made_again(tmp_path):
    library, maker, made = _map(tmp_path)
    with np.load(maker.path) as data:
        arrays = dict(data)
    arrays["coords"] = np.full_like(arrays["coords"], np.nan)
    np.savez(maker.path, **arrays)
    assert MapMaker(library, library.model.key).cached() is None
    again = MapMaker(library, library.model.key).compute()
    assert np.isfinite(again.coords).all() and np.allclose(again.coords, made.coords)


def test_a_map_cache_member_that_inflates_is_never_inflated(tmp_path):
    library, maker, _ = _map(tmp_path)
    with np.load(maker.path) as data:
        arrays = dict(data)
    with zipfile.ZipFile(maker.path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for name, array in arrays.items():
            if name != "coords":
                with bomb.open(f"{name}.npy", "w") as member:
                    np.lib.format.write_array(member, array)
        with bomb.open("coords.npy", "w", force_zip64=True) as member:  # 64 MB of zeros in ~64 kB
            np.lib.format.write_array_header_1_0(
                member, {"descr": "<f4", "fortran_order": False, "shape": (1 << 23, 2)}
            )
            zeros = bytes(1 << 20)
            for _ in range(64):
                member.write(zeros)
    assert maker.path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        assert MapMaker(library, library.model.key).cached() is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
