from __future__ import annotations

import os
import shutil
import sqlite3

import numpy as np
import pytest

from engine.indexer import embed_pending, scan, walk
from engine.library import Library, LibraryError
from engine.modality import Modality


def test_index_mixed_folder_with_broken_files(tmp_path, mixed_folder, tiny_model):
    library = Library(tmp_path / "lib")
    report = scan(library, mixed_folder)
    assert report.added == 72 + 3  # 12 scenes x 6 files, plus three broken ones
    assert report.ignored == 1  # notes.zip; hidden folders are skipped entirely
    result = embed_pending(library, tiny_model)
    assert (result.embedded, result.failed) == (72, 3)
    counts = library.counts()
    assert {m.value: counts.get((m.value, "embedded"), 0) for m in Modality} == {
        "vision": 12,
        "text": 12,
        "audio": 12,
        "depth": 12,
        "thermal": 12,
        "imu": 12,
    }
    failed = {os.path.basename(i.path): (i.error_kind, i.error) for i in library.items(status="failed")}
    assert failed["empty.jpg"][0] == "EmptyFile"
    assert failed["cut.wav"][0] in ("CorruptFile", "UnsupportedFile")
    assert failed["broken.csv"] == ("InvalidSignal", "missing IMU columns gx, gy, gz (found: ax, ay, az)")
    ids, modalities, vectors, scales = library.embeddings(tiny_model.name)
    assert vectors.shape == (72, 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_rescan_picks_up_changes_and_removals_without_reencoding(tmp_path, mixed_folder, tiny_model):
    library = Library(tmp_path / "lib")
    scan(library, mixed_folder)
    embed_pending(library, tiny_model)
    photo = sorted((mixed_folder / "images").glob("dog_*"))[0]
    moved = mixed_folder / "elsewhere" / "renamed_dog.jpg"
    moved.parent.mkdir()
    shutil.move(photo, moved)
    shutil.copy(moved, mixed_folder / "elsewhere" / "duplicate.jpg")
    (mixed_folder / "text" / "cat_0000.txt").write_text("a different caption about a cat")
    (mixed_folder / "images" / "empty.jpg").unlink()
    report = scan(library)
    assert (report.added, report.changed, report.removed) == (2, 1, 2)
    pending = library.items(status="pending")
    assert [os.path.basename(i.path) for i in pending] == [
        "cat_0000.txt"
    ]  # moved and duplicated photos reuse their embedding
    assert library.item_by_path(moved).status == "embedded"
    result = embed_pending(library, tiny_model)
    assert (result.embedded, result.failed) == (1, 0)


def test_texts_and_labels_are_items_and_settings(tmp_path, tiny_model):
    library = Library(tmp_path / "lib")
    ids = library.add_texts(["a dog", "rain on a roof", "a dog", "  "])
    assert len(ids) == 3 and ids[0] == ids[2]
    embed_pending(library, tiny_model)
    assert library.counts() == {("text", "embedded"): 2}
    library.set_labels(["dog", "cat", "dog", ""])
    assert Library(tmp_path / "lib").labels == ["dog", "cat"]


def test_switching_models_marks_items_pending(tmp_path, mixed_folder, tiny_model):
    library = Library(tmp_path / "lib")
    scan(library, mixed_folder / "text")
    embed_pending(library, tiny_model)
    library.set_model("another-model")
    assert library.counts() == {("text", "pending"): 12}
    library.set_model(tiny_model.name)
    assert library.counts() == {("text", "embedded"): 12}


def test_symlink_loops_and_unreadable_folders(tmp_path, world):
    root = tmp_path / "root"
    shutil.copytree(world / "text", root / "text")
    (root / "text" / "loop").symlink_to(root, target_is_directory=True)
    locked = root / "locked"
    locked.mkdir()
    (locked / "a.txt").write_text("hidden")
    locked.chmod(0)
    try:
        warnings: list[str] = []
        files = walk(root, warnings)
        if os.geteuid() != 0:  # root reads everything
            assert any("locked" in w for w in warnings)
        assert len([f for f in files if f.suffix == ".txt" and "locked" not in str(f)]) == 12
    finally:
        locked.chmod(0o755)


def test_vanished_and_broken_links_are_skipped(tmp_path, world):
    root = tmp_path / "root"
    shutil.copytree(world / "text", root)
    (root / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    library = Library(tmp_path / "lib")
    assert scan(library, root).added == 12


def test_missing_root_keeps_items(tmp_path, world):
    root = tmp_path / "root"
    shutil.copytree(world / "text", root)
    library = Library(tmp_path / "lib")
    scan(library, root)
    shutil.rmtree(root)
    report = scan(library)
    assert "missing" in report.warnings[0] and len(library.items()) == 12


def test_not_a_library(tmp_path):
    with pytest.raises(LibraryError, match="not a BindScope library"):
        Library(tmp_path / "nothing", create=False)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "library.sqlite").write_text("this is not a database")
    with pytest.raises(LibraryError, match="unusable"):
        Library(tmp_path / "bad")


def test_database_is_wal_and_consistent(tmp_path, mixed_folder, tiny_model):
    library = Library(tmp_path / "lib")
    scan(library, mixed_folder)
    embed_pending(library, tiny_model)
    with sqlite3.connect(tmp_path / "lib" / "library.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_removing_a_root_removes_its_items_and_unused_embeddings(tmp_path, world, tiny_model):
    library = Library(tmp_path / "lib")
    scan(library, world / "text")
    scan(library, world / "audio")
    embed_pending(library, tiny_model)
    text_root = next(r for r in library.roots() if r.path.endswith("text"))
    library.remove_root(text_root.id)
    assert {i.modality for i in library.items()} == {Modality.AUDIO}
    assert len(library.embeddings(tiny_model.name)[0]) == 12
    with sqlite3.connect(tmp_path / "lib" / "library.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 12


def test_many_ids_in_one_request(tmp_path):
    library = Library(tmp_path / "lib")
    ids = library.add_texts(f"caption number {i}" for i in range(2500))
    assert [i.id for i in library.items(ids=ids)] == sorted(ids)


def test_hostile_files_never_stop_a_scan(tmp_path, tiny_model):
    from PIL import Image

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "empty.npy").write_bytes(b"")
    (folder / "cut.npz").write_bytes(b"PK\x03\x04 truncated")
    Image.new("L", (20000, 10000)).save(folder / "bomb.png")  # 200 MP of zeros: Pillow refuses to open it
    np.save(folder / "ok.npy", np.ones((8, 8), np.float32))
    library = Library(tmp_path / "lib")
    assert scan(library, folder).added == 4
    embed_pending(library, tiny_model)
    failed = {os.path.basename(i.path): i.error_kind for i in library.items(status="failed")}
    assert failed == {"empty.npy": "EmptyFile", "cut.npz": "CorruptFile", "bomb.png": "FileTooLarge"}


def test_unchanged_files_are_not_read_again(tmp_path, world, monkeypatch):
    import engine.indexer as indexer

    library = Library(tmp_path / "lib")
    scan(library, world / "images")
    calls = []
    monkeypatch.setattr(indexer, "detect_modality", lambda path: calls.append(path))
    report = scan(library)
    assert report.unchanged == 12 and calls == []
