"""Parquet export and import: the interchange format of libraries and clusters."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from engine.exchange import ExchangeError, export, import_embeddings, write
from engine.library import Library, display
from engine.modality import Modality
from engine.search_index import SearchIndex
from engine.workspace import Workspace
from tests.libraries import clustered, library_of, shard, synthetic_ref


@pytest.fixture()
def small(make_workspace, world, tmp_path):
    """A few real files: captions (one under a name that is not UTF-8, one duplicated), pictures, a broken one."""
    import shutil

    folder = tmp_path / "small"
    folder.mkdir()
    captions = sorted((world / "text").iterdir())[:3]
    shutil.copy(captions[0], folder / "caption.txt")
    shutil.copy(captions[1], os.fsdecode(bytes(folder) + b"/caf\xe9.txt"))
    shutil.copy(captions[1], folder / "copy of it.txt")
    for picture in sorted((world / "images").iterdir())[:2]:
        shutil.copy(picture, folder / picture.name)
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    return make_workspace(folder)


def _rows(path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_the_export_joins_the_map_and_round_trips_paths_failures_and_vectors(small, tmp_path):
    library = small.library
    out = tmp_path / "export.parquet"
    assert small.export(out) == library.count("embedded") == 5  # embedded rows only: a notebook stacks them
    rows = _rows(out)
    assert all(r["embedding"] is not None and r["error_kind"] is None for r in rows)
    np.stack([r["embedding"] for r in rows])
    for row in rows:  # the id is the library's, the one map.json and search hits carry
        item = library.item(row["id"])
        exact = row["path_bytes"] if row["path_bytes"] is not None else row["path"].encode()
        assert os.fsencode(item.path) == exact and row["hash"] == item.hash
    texts = {os.path.basename(r["path"]): r["text"] for r in rows if r["modality"] == "text"}
    assert texts["caption.txt"] == (small.library.folder.parent / "small" / "caption.txt").read_text().strip()
    assert texts["caf\ufffd.txt"] == texts["copy of it.txt"] is not None
    strange = next(r for r in rows if r["path_bytes"] is not None)
    assert strange["path_bytes"].endswith(b"/caf\xe9.txt") and strange["path"].endswith("/caf\ufffd.txt")
    meta = pq.ParquetFile(out).schema_arrow.metadata
    assert meta[b"bindscope.hash"].startswith(b"blake2b-128")
    assert meta[b"bindscope.model"].decode() == "tiny.safetensors"  # the checkpoint's name, not its path
    assert b"/" not in meta[b"bindscope.model"]

    whole = tmp_path / "whole.parquet"
    assert small.export(whole, include_failures=True) == 6
    other = Library(tmp_path / "other")
    report = import_embeddings(other, whole)
    assert (report.rows, report.failures, report.invalid, report.refused) == (6, 1, [], [])
    again = tmp_path / "again.parquet"
    assert export(other, again, include_failures=True) == 6

    def content(path):
        return {
            (r["path_bytes"] or r["path"].encode(), r["modality"], r["hash"], r["error_kind"]): (
                r["embedding"],
                r["scale"],
            )
            for r in _rows(path)
        }

    assert content(again) == content(whole)
    assert import_embeddings(other, whole).changed == 0  # idempotent


def test_map_json_carries_ids_and_paths(small, tmp_path):
    from app.cli import main

    out = tmp_path / "map.json"
    assert main(["map", "--out", str(out), "--library", str(small.folder)]) == 0
    points = json.loads(out.read_text())["points"]
    assert {p["path"] for p in points} == {display(small.library.item(p["id"]).path) for p in points}


def test_an_npz_export_stacks_and_keeps_exact_paths(small, tmp_path):
    out = tmp_path / "export.npz"
    assert small.export(out) == 5
    with np.load(out) as data:
        assert data["embeddings"].shape == (5, small.library.model.dim) and np.isfinite(data["embeddings"]).all()
        exact = {bytes(p) for p in data["path_bytes"]}
        assert {os.fsencode(small.library.item(int(i)).path) for i in data["ids"]} == exact
    with pytest.raises(ExchangeError, match="as .parquet"):
        small.export(out, include_failures=True)


def test_cluster_shards_always_carry_failures(tmp_path):
    ref = synthetic_ref(4)
    columns = {"modality": ["vision"] * 2, "path": ["/a.png", "/b.png"], "scale": [1.0, None]}
    columns |= {"hash": ["ha", "hb"], "error_kind": [None, "CorruptFile"], "error": [None, "bad"]}
    vectors = np.array([[1, 0, 0, 0], [np.nan] * 4], np.float32)
    rows = _rows(write(tmp_path / "shard.parquet", columns, vectors, ref))
    assert rows[1]["embedding"] is None and rows[1]["error_kind"] == "CorruptFile"


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
    assert report.invalid[0].startswith(f"{path}: row 2: column 'embedding': not finite")
    assert report.invalid[1].startswith(f"{path}: row 3: column 'modality': unknown modality 'smell'")
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


def test_parquet_written_by_polars_imports(tmp_path):
    polars = pytest.importorskip("polars")
    vectors = clustered(6, 8)
    frame = polars.DataFrame(
        {
            "modality": ["vision"] * 3 + ["audio"] * 3,
            "path": [f"/polars/{n}.x" for n in range(6)],
            "embedding": vectors.tolist(),  # a list column of float64, as Polars makes it from Python lists
            "scale": [1.0] * 6,
        }
    )
    frame.write_parquet(tmp_path / "polars.parquet", metadata={"bindscope.model": "synthetic", "bindscope.dim": "8"})
    frame.with_columns(polars.col("embedding").cast(polars.Array(polars.Float32, 8))).write_parquet(
        tmp_path / "array.parquet", metadata={"bindscope.model": "synthetic"}
    )
    library = Library(tmp_path / "lib")
    for name in ("polars.parquet", "array.parquet"):
        report = import_embeddings(library, tmp_path / name)
        assert (report.rows, report.invalid) == (6, [])
    assert library.count() == 6 and library.model.dim == 8 and library.model.name == "synthetic"
    item = library.item_by_path("/polars/4.x")
    np.testing.assert_allclose(library.embedding(item.id, library.model.key)[0], vectors[4], atol=1e-6)


def test_parquet_written_by_duckdb_imports_and_other_widths_are_refused(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    library = library_of(tmp_path, clustered(3, 8), ["vision"] * 3)
    ref = library.model
    meta = f"KV_METADATA {{'bindscope.model': '{ref.name}', 'bindscope.model_fingerprint': '{ref.fingerprint}'}}"
    query = "SELECT 'vision' AS modality, '/duck/' || i || '.png' AS path, {vector} AS embedding, 1.0 AS scale FROM range(4) t(i)"
    with duckdb.connect() as db:
        db.execute(
            f"COPY ({query.format(vector='[1.0, i, 0, 0, 0, 0, 0, 0]::FLOAT[8]')}) TO '{tmp_path}/duck.parquet' (FORMAT parquet, {meta})"
        )
        db.execute(
            f"COPY ({query.format(vector='[1.0, i]::FLOAT[]')}) TO '{tmp_path}/short.parquet' (FORMAT parquet, {meta})"
        )
        mixed = "(CASE WHEN i = 2 THEN [1.0, 2.0] ELSE [1.0, 0, 0, 0, 0, 0, 0, 0] END)::FLOAT[]"
        db.execute(f"COPY ({query.format(vector=mixed)}) TO '{tmp_path}/mixed.parquet' (FORMAT parquet, {meta})")
    report = import_embeddings(library, tmp_path / "duck.parquet")
    assert (report.rows, report.changed, report.invalid) == (4, 4, [])
    stored = library.embedding(library.item_by_path("/duck/1.png").id, ref.key)[0]
    np.testing.assert_allclose(stored[:2], [2**-0.5] * 2, rtol=1e-6)
    with pytest.raises(ExchangeError, match="short.parquet: embedded with .*2 dimensions.* 8 dimensions"):
        import_embeddings(library, tmp_path / "short.parquet")
    with pytest.raises(ExchangeError, match="mixed.parquet: column 'embedding': row 3 has 2 values"):
        import_embeddings(library, tmp_path / "mixed.parquet")
    assert library.count() == 7
