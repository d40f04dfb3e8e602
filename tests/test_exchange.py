"""Parquet export and import: the interchange format of libraries and clusters."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from engine.exchange import ExchangeError, import_embeddings, write
from engine.library import Library
from engine.modality import Modality
from engine.search_index import SearchIndex
from engine.workspace import Workspace
from tests.libraries import clustered, library_of, shard, stored_vectors, synthetic_ref


@pytest.fixture()
def indexed(make_workspace, mixed_folder):
    return make_workspace(mixed_folder)


def test_export_then_import_reproduces_the_library(indexed, tmp_path):
    out = tmp_path / "export.parquet"
    rows = indexed.export(out)
    assert rows == 75  # 72 embeddings and 3 failures
    file = pq.ParquetFile(out)
    meta = file.schema_arrow.metadata
    assert meta[b"bindscope.model"].decode() == indexed.library.model.name
    assert meta[b"bindscope.model_fingerprint"].decode() == indexed.library.model.fingerprint
    assert {"modality", "path", "text", "embedding", "scale", "hash", "size", "mtime", "error_kind", "error"} <= set(
        file.schema_arrow.names
    )
    other = Library(tmp_path / "other")
    report = import_embeddings(other, out)
    assert (report.rows, report.changed, report.failures, report.invalid) == (75, 75, 3, [])
    ids, modalities, vectors = stored_vectors(indexed.library)
    copied = {i.path: i for i in other.items()}
    original = {i.path: i for i in indexed.library.items()}
    assert copied.keys() == original.keys()
    for item_id, vector in zip(ids.tolist(), vectors, strict=True):
        path = indexed.library.item(item_id).path
        found = other.embedding(copied[path].id, other.model.key)
        np.testing.assert_array_equal(found[0], vector)
    assert {(i.status, i.error_kind) for i in other.items(status="failed")} == {
        (i.status, i.error_kind) for i in indexed.library.items(status="failed")
    }
    again = import_embeddings(other, out)
    assert again.changed == 0 and other.count() == 75  # idempotent


def test_a_file_of_another_model_or_dimension_is_refused_whole(tmp_path):
    library = library_of(tmp_path, clustered(20, 8), ["vision"] * 20)
    before = library.generation
    other_model = shard(tmp_path / "other.parquet", clustered(5, 8), ["vision"] * 5, synthetic_ref(8, "another"))
    with pytest.raises(ExchangeError, match=r"embedded with Another .* this library's model is Synthetic"):
        import_embeddings(library, other_model)
    wider = shard(tmp_path / "wide.parquet", clustered(5, 16), ["vision"] * 5, synthetic_ref(16))
    with pytest.raises(ExchangeError, match="16 dimensions"):
        import_embeddings(library, wider)
    assert library.generation == before and library.count() == 20


def test_a_truncated_file_is_a_clear_error_and_changes_nothing(tmp_path):
    library = library_of(tmp_path, clustered(20, 8), ["vision"] * 20)
    big = shard(tmp_path / "big.parquet", clustered(3000, 8), ["audio"] * 3000, library.model, first=100)
    data = big.read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ExchangeError, match="cut.parquet"):
        import_embeddings(library, cut)
    damaged = tmp_path / "damaged.parquet"
    columns = pq.read_table(big).to_pydict()
    write(damaged, columns, np.array(columns.pop("embedding"), np.float32), library.model, row_group=500)
    raw = bytearray(damaged.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 4000] = b"\x00" * 4000  # a damaged row group in the middle
    damaged.write_bytes(bytes(raw))
    with pytest.raises(ExchangeError, match="damaged.parquet"):
        import_embeddings(library, damaged)
    assert library.count() == 20 and library.store_rows(library.model.key) == {Modality.VISION: 20}
    index = SearchIndex(library, library.model.key)
    assert len(index.search(clustered(20, 8)[3], k=50)[Modality.VISION]) == 20


def test_bad_rows_are_skipped_and_reported(tmp_path):
    ref = synthetic_ref(4)
    vectors = np.eye(4, dtype=np.float32)[[0, 1, 2, 3]]
    vectors[1] = np.inf
    columns = {
        "modality": ["vision", "vision", "smell", "text"],
        "path": ["/a.png", "/b.png", "/c.png", None],
        "text": [None, None, None, "a caption"],
        "scale": [1.0, 1.0, 1.0, 1.0],
    }
    path = write(tmp_path / "rows.parquet", columns, vectors, ref)
    library = Library(tmp_path / "lib")
    report = import_embeddings(library, path)
    assert report.changed == 2 and len(report.invalid) == 2
    assert any("b.png" in line for line in report.invalid) and any("smell" in line for line in report.invalid)
    assert library.item_by_path("/a.png").status == "embedded"
    assert [i.text for i in library.items(modality=Modality.TEXT)] == ["a caption"]
    summary = Workspace(library).summary()
    assert summary.roots == [] and summary.outside == {"vision": {"embedded": 1}, "text": {"embedded": 1}}


def test_a_folder_of_shards_imports_complete_files_only(tmp_path):
    ref = synthetic_ref(8)
    folder = tmp_path / "shards"
    folder.mkdir()
    vectors = clustered(30, 8)
    for n in range(3):
        shard(folder / f"part-{n}.parquet", vectors[n * 10 : (n + 1) * 10], ["depth"] * 10, ref, first=n * 10)
    (folder / "part-3.parquet.partial").write_bytes(b"still being written")
    library = Library(tmp_path / "lib")
    report = import_embeddings(library, folder)
    assert (report.files, report.rows, library.count()) == (3, 30, 30)
