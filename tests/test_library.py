from __future__ import annotations

import os
import shutil
import sqlite3

import numpy as np
import pytest

from engine.indexer import InProcess, embed_pending, scan, walk
from engine.library import Library, LibraryError
from engine.modality import Modality
from tests.libraries import stored_vectors


@pytest.fixture()
def tiny_ref(tiny_model):
    return tiny_model.ref


def counts(library: Library) -> dict[tuple[str, str], int]:
    """(modality, status) -> number of items, from the library's one count (``Library.tally``)."""
    found: dict[tuple[str, str], int] = {}
    for row in library.tally():
        found[(row.modality, row.status)] = found.get((row.modality, row.status), 0) + row.items
    return found


def test_index_mixed_folder_with_broken_files(tmp_path, mixed_folder, tiny_model, tiny_ref):
    library = Library(tmp_path / "lib")
    report = scan(library, mixed_folder)
    assert report.added == 72 + 3  # 12 scenes x 6 files, plus three broken ones
    assert report.ignored == 1  # notes.zip; hidden folders are skipped entirely
    library.set_model(tiny_ref)
    result = embed_pending(library, InProcess(tiny_model, tiny_ref))
    assert (result.embedded, result.failed) == (72, 3)
    tallied = counts(library)
    assert {m.value: tallied.get((m.value, "embedded"), 0) for m in Modality} == {m.value: 12 for m in Modality}
    failed = {os.path.basename(i.path): (i.error_kind, i.error) for i in library.items(status="failed")}
    assert failed["empty.jpg"][0] == "EmptyFile"
    assert failed["cut.wav"][0] in ("CorruptFile", "UnsupportedFile")
    assert failed["broken.csv"] == ("InvalidSignal", "missing IMU columns gx, gy, gz (found: ax, ay, az)")
    ids, modalities, vectors = stored_vectors(library)
    assert vectors.shape == (72, 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_rescan_keeps_moved_and_gone_files_without_reencoding(tmp_path, mixed_folder, tiny_model, tiny_ref):
    library = Library(tmp_path / "lib")
    scan(library, mixed_folder)
    library.set_model(tiny_ref)
    embed_pending(library, InProcess(tiny_model, tiny_ref))
    photo = sorted((mixed_folder / "images").glob("dog_*"))[0]
    kept_id = library.item_by_path(photo).id
    moved = mixed_folder / "elsewhere" / "renamed_dog.jpg"
    moved.parent.mkdir()
    shutil.move(photo, moved)
    shutil.copy(moved, mixed_folder / "elsewhere" / "duplicate.jpg")
    (mixed_folder / "text" / "cat_0000.txt").write_text("a different caption about a cat")
    sound = sorted((mixed_folder / "audio").glob("dog_*"))[0]
    sound.unlink()
    report = scan(library)
    assert (report.added, report.changed, report.removed, report.missing) == (2, 1, 1, 1)
    assert library.item(kept_id) is None  # moved: its new path carries the embedding
    assert library.item_by_path(moved).status == "embedded"
    gone = library.item_by_path(sound)
    assert gone.missing and gone.status == "embedded"  # offline, not removed, not failed
    pending = library.items(status="pending")
    assert [os.path.basename(i.path) for i in pending] == ["cat_0000.txt"]
    result = embed_pending(library, InProcess(tiny_model, tiny_ref))
    assert (result.embedded, result.failed) == (1, 0)
    assert library.remove_missing() == 1 and library.item_by_path(sound) is None


def test_texts_and_labels_are_items_and_settings(tmp_path, tiny_model, tiny_ref):
    library = Library(tmp_path / "lib")
    ids = library.add_texts(["a dog", "rain on a roof", "a dog", "  "])
    assert len(ids) == 3 and ids[0] == ids[2]
    library.set_model(tiny_ref)
    embed_pending(library, InProcess(tiny_model, tiny_ref))
    assert counts(library) == {("text", "embedded"): 2}
    library.set_labels(["dog", "cat", "dog", ""])
    assert Library(tmp_path / "lib").labels == ["dog", "cat"]


def test_switching_models_marks_items_pending_and_back(tmp_path, mixed_folder, tiny_model, tiny_ref):
    from tests.libraries import synthetic_ref

    library = Library(tmp_path / "lib")
    scan(library, mixed_folder / "text")
    library.set_model(tiny_ref)
    embed_pending(library, InProcess(tiny_model, tiny_ref))
    library.set_model(synthetic_ref(16, "another"))
    assert counts(library) == {("text", "pending"): 12}
    library.set_model(tiny_ref)
    assert counts(library) == {("text", "embedded"): 12}


def test_database_is_wal_consistent_and_counts_generations(tmp_path, mixed_folder, tiny_model, tiny_ref):
    library = Library(tmp_path / "lib")
    before = library.generation
    scan(library, mixed_folder)
    after_scan = library.generation
    library.set_model(tiny_ref)
    embed_pending(library, InProcess(tiny_model, tiny_ref))
    assert before < after_scan < library.generation
    assert library.quick_check() == "ok"
    with sqlite3.connect(tmp_path / "lib" / "library.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_removing_a_root_removes_its_items(tmp_path, world, tiny_model, tiny_ref):
    library = Library(tmp_path / "lib")
    scan(library, world / "text")
    scan(library, world / "audio")
    library.set_model(tiny_ref)
    embed_pending(library, InProcess(tiny_model, tiny_ref))
    text_root = next(r for r in library.roots() if r.path.endswith("text"))
    library.remove_root(text_root.id)
    assert {i.modality for i in library.items()} == {Modality.AUDIO}
    assert len(library.embedded_rows(library.model.key)[0]) == 12


def test_many_ids_in_one_request_and_paging(tmp_path):
    library = Library(tmp_path / "lib")
    ids = library.add_texts(f"caption number {i}" for i in range(2500))
    assert [i.id for i in library.items(ids=ids)] == sorted(ids)
    page = library.items(offset=100, limit=50)
    assert [i.id for i in page] == sorted(ids)[100:150]


def test_symlink_loops_and_unreadable_folders(tmp_path, world):
    root = tmp_path / "root"
    shutil.copytree(world / "text", root / "text")
    (root / "text" / "loop").symlink_to(root, target_is_directory=True)
    warnings: list[str] = []
    walked = walk(str(root), warnings)
    assert len([f for f in walked.files if f.endswith(".txt")]) == 12 and not walked.unreadable


def test_vanished_and_broken_links_are_skipped(tmp_path, world):
    root = tmp_path / "root"
    shutil.copytree(world / "text", root)
    (root / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    library = Library(tmp_path / "lib")
    report = scan(library, root)
    assert report.added == 12 and any("dangling.txt" in w for w in report.warnings)


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


def test_hostile_files_never_stop_a_scan(tmp_path, tiny_model, tiny_ref):
    from PIL import Image

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "empty.npy").write_bytes(b"")
    (folder / "cut.npz").write_bytes(b"PK\x03\x04 truncated")
    Image.new("L", (20000, 10000)).save(folder / "bomb.png")  # 200 MP of zeros: Pillow refuses to open it
    np.save(folder / "ok.npy", np.ones((8, 8), np.float32))
    library = Library(tmp_path / "lib")
    assert scan(library, folder).added == 4
    library.set_model(tiny_ref)
    embed_pending(library, InProcess(tiny_model, tiny_ref))
    failed = {os.path.basename(i.path): i.error_kind for i in library.items(status="failed")}
    assert failed == {"empty.npy": "EmptyFile", "cut.npz": "CorruptFile", "bomb.png": "FileTooLarge"}


def test_unchanged_files_are_not_read_again(tmp_path, world, monkeypatch):
    import engine.indexer as indexer

    library = Library(tmp_path / "lib")
    scan(library, world / "images")
    calls = []
    monkeypatch.setattr(indexer, "detect_modality", lambda path: calls.append(path))
    monkeypatch.setattr(indexer, "hash_file", lambda path: calls.append(path))
    report = scan(library)
    assert report.unchanged == 12 and calls == []


def test_a_torn_vector_tail_is_cut_on_open(tmp_path, world, tiny_model, tiny_ref):
    library = Library(tmp_path / "lib")
    scan(library, world / "text")
    library.set_model(tiny_ref)
    embed_pending(library, InProcess(tiny_model, tiny_ref))
    store = library.store(library.model.key)
    path = store.path(Modality.TEXT)
    size = path.stat().st_size
    library.close()
    with path.open("ab") as handle:  # a writer killed after appending, before committing
        handle.write(b"\x01" * (store.row_bytes + 7))
    reopened = Library(tmp_path / "lib")
    assert path.stat().st_size == size
    assert len(stored_vectors(reopened)[0]) == 12
