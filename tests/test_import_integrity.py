"""An import trusts nothing (issue 19, rows 1, 10 and 12): each hostile file is made here, by the test."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine import exchange
from engine.exchange import ExchangeError, import_embeddings, write
from engine.library import Library, hash_file, imported
from engine.modality import Modality
from tests.libraries import clustered, library_of, shard, synthetic_ref

REF = synthetic_ref(8)


def hostile(path, columns: dict, metadata: dict | None = None):
    """A Parquet file of these columns (lists or Arrow arrays) as any tool could write it."""
    meta = (
        {"bindscope.model": REF.name, "bindscope.model_fingerprint": REF.fingerprint} if metadata is None else metadata
    )
    pq.write_table(pa.table(columns).replace_schema_metadata(meta), path)
    return path


def rows(count: int, dim: int = 8, **columns) -> dict:
    vectors = clustered(count, dim)
    return {
        "modality": ["vision"] * count,
        "path": [f"/archive/{n}.png" for n in range(count)],
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
        "scale": [1.0] * count,
        **columns,
    }


# -- row 1: an imported vector never becomes a local file's ----------------------------------------


@pytest.fixture()
def photo(tmp_path, world):
    folder = tmp_path / "photos"
    folder.mkdir()
    picture = folder / "photo.png"
    shutil.copy(sorted((world / "images").iterdir())[0], picture)
    return picture


def _true_vector(make_workspace, photo):
    clean = make_workspace(photo.parent, library="clean")
    item = clean.library.item_by_path(photo)
    return clean.library.embedding(item.id, clean.library.model.key)[0]


def test_a_bait_row_with_a_real_files_hash_never_becomes_its_vector(make_workspace, photo, tmp_path):
    workspace = make_workspace(library="poisoned")
    bait = rows(1, workspace.ref().dim, path=["/nowhere/bait.png"], hash=[hash_file(photo)])
    workspace.import_embeddings(hostile(tmp_path / "bait.parquet", bait, _metadata(workspace.ref())))
    workspace.index([photo.parent])
    item = workspace.library.item_by_path(photo)
    found = workspace.library.embedding(item.id, workspace.library.model.key)[0]
    np.testing.assert_allclose(found, _true_vector(make_workspace, photo), atol=1e-6)


def test_a_row_naming_a_file_with_its_size_and_time_is_hashed_again_by_the_scan(make_workspace, photo, tmp_path):
    workspace = make_workspace(library="poisoned")
    workspace.library.add_root(photo.parent)  # a folder added, its files not scanned yet
    info = photo.stat()
    named = rows(1, workspace.ref().dim, path=[str(photo)], hash=["made-up"], size=[info.st_size])
    named["mtime"] = [info.st_mtime]
    workspace.import_embeddings(hostile(tmp_path / "named.parquet", named, _metadata(workspace.ref())))
    workspace.index([photo.parent])
    item = workspace.library.item_by_path(photo)
    assert item.hash == hash_file(photo) and item.status == "embedded"
    found = workspace.library.embedding(item.id, workspace.library.model.key)[0]
    np.testing.assert_allclose(found, _true_vector(make_workspace, photo), atol=1e-6)


def test_an_import_never_overrides_a_local_item(make_workspace, photo, tmp_path):
    workspace = make_workspace(photo.parent)
    item = workspace.library.item_by_path(photo)
    before = workspace.library.embedding(item.id, workspace.library.model.key)[0]
    over = rows(2, workspace.ref().dim, path=[str(photo)] * 2, hash=[hash_file(photo), "other"])
    workspace.import_embeddings(hostile(tmp_path / "over.parquet", over, _metadata(workspace.ref())))
    after = workspace.library.item_by_path(photo)
    assert after.hash == item.hash and not imported(after.hash)
    np.testing.assert_array_equal(workspace.library.embedding(item.id, workspace.library.model.key)[0], before)


def _metadata(ref) -> dict:
    return {"bindscope.model": os.path.basename(ref.name), "bindscope.model_fingerprint": ref.fingerprint}


# -- row 10: bounded work, no local reads ------------------------------------------------------------


def test_a_width_no_model_has_is_refused_before_anything_is_read(tmp_path):
    wide = 262_144
    zeros = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(4 * wide, np.float32)), wide)
    path = hostile(tmp_path / "wide.parquet", rows(4, 8, embedding=zeros))
    library = Library(tmp_path / "lib")
    with pytest.raises(ExchangeError, match="262144 values a row is not an embedding width"):
        import_embeddings(library, path)
    assert library.model is None and library.count() == 0


def test_batches_are_bounded_by_bytes_not_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(exchange, "BATCH_BYTES", 64 * 1024)  # 16 rows of 1024 float32
    columns = {"modality": ["vision"] * 100, "path": [f"/a/{n}.png" for n in range(100)], "scale": [1.0] * 100}
    path = write(tmp_path / "wide.parquet", columns, clustered(100, 1024), synthetic_ref(1024))
    steps = []
    import_embeddings(Library(tmp_path / "lib"), path, progress=lambda _stage, done, _total: steps.append(done))
    assert steps == [16, 32, 48, 64, 80, 96, 100]


def test_rows_without_a_hash_never_read_the_files_they_name(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for an import to read")
    path = hostile(tmp_path / "named.parquet", rows(1, path=[str(secret)]))
    library = Library(tmp_path / "lib")
    import_embeddings(library, path)
    item = library.item_by_path(secret)
    assert imported(item.hash) and hash_file(secret) not in item.hash


def test_a_relative_path_is_refused_not_resolved_against_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = hostile(tmp_path / "relative.parquet", rows(2, path=["photos/a.png", "/archive/b.png"]))
    library = Library(tmp_path / "lib")
    report = import_embeddings(library, path)
    assert [i.path for i in library.items()] == ["/archive/b.png"]
    assert report.invalid == [
        f"{path}: row 1: column 'path': 'photos/a.png' is not an absolute path "
        "(an import never resolves one against the working folder)"
    ]


# -- row 12: the file's word checked against itself and the library --------------------------------


def test_a_known_models_width_is_not_taken_from_a_file(tmp_path):
    from engine.models import zoo
    from engine.models.identity import ref_for_entry

    demo = ref_for_entry(zoo.resolve("demo"))
    for number, meta in enumerate(
        ({"bindscope.model": "demo"}, {"bindscope.model": "mine", "bindscope.model_fingerprint": demo.fingerprint})
    ):
        path = hostile(tmp_path / f"narrow{number}.parquet", rows(3, 64), meta)
        library = Library(tmp_path / f"lib{number}")
        with pytest.raises(ExchangeError, match="64-dimensional embeddings under .* 128 dimensions"):
            import_embeddings(library, path)
        assert library.model is None


def test_the_declared_dimension_must_be_the_datas(tmp_path):
    path = hostile(tmp_path / "declared.parquet", rows(3), {"bindscope.model": "x", "bindscope.dim": "16"})
    with pytest.raises(ExchangeError, match="8 values a row, the metadata declares 16"):
        import_embeddings(Library(tmp_path / "lib"), path)


def test_a_file_of_no_rows_names_no_model(tmp_path):
    path = write(tmp_path / "empty.parquet", {}, np.zeros((0, 8), np.float32), REF)
    library = Library(tmp_path / "lib")
    assert import_embeddings(library, path).files == 1 and library.model is None


def test_the_libraries_fingerprint_under_another_name_never_renames_its_model(tmp_path):
    library = library_of(tmp_path, clustered(3, 8), ["vision"] * 3, REF)
    long_title = "\x1b[2J" + "t" * 1_000_000
    meta = {**_metadata(REF), "bindscope.model": "impostor", "bindscope.model_title": long_title}
    import_embeddings(library, hostile(tmp_path / "renaming.parquet", rows(2), meta))
    assert (library.model.name, library.model.title) == (REF.name, REF.title)
    fresh = Library(tmp_path / "fresh")
    import_embeddings(fresh, hostile(tmp_path / "titled.parquet", rows(2), meta))
    assert len(fresh.model.title) <= 200 and "\x1b" not in fresh.model.title


def test_overflowing_and_non_finite_rows(tmp_path):
    huge = np.zeros((1, 8), np.float32)
    huge[0, :2] = 3e38  # finite, but its norm overflows float32
    path = write(tmp_path / "huge.parquet", {"modality": ["vision"], "path": ["/a.png"], "scale": [1.0]}, huge, REF)
    library = Library(tmp_path / "lib")
    import_embeddings(library, path)
    stored = library.embedding(library.item_by_path("/a.png").id, library.model.key)[0]
    np.testing.assert_allclose(stored[:2], [2**-0.5] * 2, rtol=1e-6)
    doubles = pa.array([[1e300] + [0.0] * 7, [1.0] + [0.0] * 7], pa.list_(pa.float64()))  # DuckDB's DOUBLE[]
    report = import_embeddings(library, hostile(tmp_path / "doubles.parquet", rows(2, embedding=doubles)))
    assert report.changed == 1
    assert report.invalid == [
        f"{tmp_path / 'doubles.parquet'}: row 1: column 'embedding': not finite (NaN, infinity, or beyond float32)"
    ]


def test_scales_and_texts_are_checked(tmp_path):
    path = hostile(
        tmp_path / "cells.parquet",
        rows(
            5,
            scale=[3e38, -50.0, 0.0, 20.0, 1.0],
            path=[f"/a/{n}.png" for n in range(4)] + [None],
            text=[None] * 4 + [" \t\n "],
        ),
    )
    library = Library(tmp_path / "lib")
    report = import_embeddings(library, path)
    assert [line.split(": ", 2)[2][:15] for line in report.invalid] == ["column 'scale':"] * 3 + ["column 'text': "]
    assert [i.path for i in library.items()] == ["/a/3.png"]


def test_a_failure_row_never_overrides_an_embedded_item(tmp_path):
    library = library_of(tmp_path, clustered(3, 8), ["vision"] * 3, REF)
    first = library.items()[0]
    failing = rows(1, path=[first.path], hash=["h0"], error_kind=["CorruptFile"], error=["made up"])
    import_embeddings(library, hostile(tmp_path / "failing.parquet", failing))
    assert library.item(first.id).status == "embedded"


def test_a_folder_imports_file_by_file_and_names_the_files_refused(tmp_path):
    from app.cli import main

    folder = tmp_path / "shards"
    folder.mkdir()
    shard(folder / "a.parquet", clustered(3, 8), ["vision"] * 3, REF)
    shard(folder / "b.parquet", clustered(3, 16), ["vision"] * 3, synthetic_ref(16))
    shard(folder / "C.PARQUET", clustered(3, 8, seed=1), ["audio"] * 3, REF, first=3)
    library = Library(tmp_path / "lib")
    report = import_embeddings(library, folder)
    assert (report.files, library.count()) == (2, 6)
    assert len(report.refused) == 1 and report.refused[0].startswith(f"{folder / 'b.parquet'}: embedded with")
    assert "Nothing of this file was imported" in report.refused[0]
    assert main(["import", str(folder), "--library", str(tmp_path / "cli")]) == 2


def test_bad_columns_and_cells_are_named(tmp_path):
    library = Library(tmp_path / "lib")
    for name, column in (("path", pa.array([b"/a.png"] * 2)), ("modality", pa.array([1, 2]))):
        path = hostile(tmp_path / f"{name}.parquet", rows(2, **{name: column}))
        with pytest.raises(ExchangeError, match=f"{path}: column '{name}' must hold"):
            import_embeddings(library, path)
    path = hostile(tmp_path / "cells.parquet", rows(3, size=[1e300, 1.0, 2.0], mtime=[0.0, float("nan"), 1.0]))
    report = import_embeddings(library, path)
    assert [line.split(": ", 2)[1:] for line in report.invalid] == [
        ["row 1", "column 'size': 1e+300 is not a file size"],
        ["row 2", "column 'mtime': nan is not a modification time"],
    ]
    assert library.store_rows(library.model.key) == {Modality.VISION: 1}


def test_a_text_added_here_takes_over_the_same_text_imported(tmp_path):
    from engine.library import hash_text

    library = Library(tmp_path / "lib")
    import_embeddings(library, hostile(tmp_path / "text.parquet", rows(1, path=[None], text=["a dog"])))
    assert library.items()[0].status == "embedded"
    (item_id,) = library.add_texts(["a dog"])
    item = library.item(item_id)
    assert (item.hash, item.status) == (hash_text("a dog"), "pending")  # embedded here, not with the file's vector
