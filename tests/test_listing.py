"""Browsing pages: a listing of items (a modality, a folder, failed, offline) read by offset in path or date order."""

from __future__ import annotations

import sqlite3

import pytest

from engine.library import Filter, Library, LibraryError, Listing
from engine.library.schema import BROWSE_INDEXES, DATABASE
from engine.modality import Modality
from engine.workspace import Workspace


def _library(tmp_path) -> tuple[Library, int, int]:
    """Two folders: ``a`` holds 30 images and 10 sounds (dates falling as names rise), ``b`` 5 images."""
    library = Library(tmp_path / "lib")
    a, b = library.add_root(tmp_path / "a"), library.add_root(tmp_path / "b")
    files = [(f"{a.path}/{n:03d}.png", Modality.VISION, 1, 1000.0 - n, f"h{n}") for n in range(30)]
    files += [(f"{a.path}/s{n:03d}.wav", Modality.AUDIO, 1, 5.0, f"s{n}") for n in range(10)]
    library.upsert_files(a.id, files)
    library.upsert_files(b.id, [(f"{b.path}/{n}.png", Modality.VISION, 1, 7.0, f"b{n}") for n in range(5)])
    library.add_texts(["a dog", "a cat"])
    return library, a.id, b.id


def _all(library: Library, listing: Listing, sort: str = "path", descending: bool = False, page: int = 7) -> list[int]:
    ids, offset = [], 0
    while chunk := library.matching(Filter(), sort, offset, page, within=listing, descending=descending):
        ids += [item.id for item in chunk]
        offset += page
    return ids


def _count(library: Library, listing: Listing, offline_roots=()) -> int:
    return library.count_matching(Filter(), listing, offline_roots)


def test_pages_walk_a_set_to_its_end_in_path_and_date_order(tmp_path):
    library, a, _ = _library(tmp_path)
    images = Listing(Modality.VISION, folder=a)
    assert _count(library, images) == 30
    by_path = _all(library, images)
    paths = [library.item(i).path for i in by_path]
    assert paths == sorted(paths) and len(by_path) == 30
    assert _all(library, images, descending=True) == by_path[::-1]
    by_date = _all(library, images, "date")
    assert [library.item(i).mtime for i in by_date] == sorted(library.item(i).mtime for i in by_date)
    assert by_date == by_path[::-1]  # the later the name, the older the file
    sounds = _all(library, Listing(Modality.AUDIO), "date")
    assert sounds == sorted(sounds)  # equal dates: by id, so no page repeats or skips an item


def test_listings_narrow_by_folder_modality_outside_status_and_offline(tmp_path):
    library, a, b = _library(tmp_path)
    assert _count(library, Listing()) == 47
    assert _count(library, Listing(Modality.VISION)) == 35
    assert _count(library, Listing(folder=a)) == 40
    assert _count(library, Listing(folder=b)) == 5
    assert {library.item(i).text for i in _all(library, Listing(outside=True))} == {"a dog", "a cat"}
    assert _count(library, Listing(status="failed")) == 0
    library.set_missing([library.item(_all(library, Listing(folder=a))[0]).path], True)
    assert _count(library, Listing(offline=True)) == 1
    assert _count(library, Listing(offline=True), [b]) == 6  # b's folder is not reachable


def test_a_selection_is_ordered_by_path_or_date(tmp_path):
    library, a, b = _library(tmp_path)
    chosen = _all(library, Listing(Modality.VISION))[::3]
    assert library.ordered(chosen[::-1], "path") == chosen
    assert library.ordered([*chosen, 10_000], "path", descending=True) == chosen[::-1]
    assert _all(library, Listing(Modality.VISION), "path") == _all(library, Listing(Modality.VISION), "id")
    images_under_a = library.matching(Filter(glob="*/00?.png"), "date", 0, 100, within=Listing(folder=a))
    assert [item.name for item in images_under_a] == [f"{n:03d}.png" for n in range(9, -1, -1)]
    with pytest.raises(LibraryError, match="cannot sort by 'size'"):
        library.ordered(chosen, "size")


def test_a_library_made_before_the_browse_indexes_gets_them_on_open(tmp_path):
    library, _, _ = _library(tmp_path)
    library.close()
    with sqlite3.connect(tmp_path / "lib" / DATABASE) as db:
        for name in BROWSE_INDEXES:
            db.execute(f"DROP INDEX {name}")
    reopened = Library(tmp_path / "lib")
    names = {r[0] for r in reopened._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert set(BROWSE_INDEXES) <= names
    plan = reopened._db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM items WHERE modality = 'vision' ORDER BY path, id LIMIT 5 OFFSET 20"
    ).fetchall()
    assert "COVERING INDEX items_modality_path" in plan[0][3]


def test_the_workspace_pages_items_in_order(tmp_path):
    library, a, _ = _library(tmp_path)
    library.close()
    workspace = Workspace.open(tmp_path / "lib")
    listing = Listing(Modality.VISION, folder=a)
    page = workspace.listing(None, "path", 28, 10, within=listing)
    assert [item.name for item in page] == ["028.png", "029.png"]
    assert workspace.count(within=listing) == 30 and workspace.count() == 47
    workspace.close()
