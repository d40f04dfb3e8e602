"""A property of the scan over random trees of good files, bad files, links, loops and FIFOs: it always finishes,
every regular file is accounted for, and the library stays consistent, with no vector under a hash whose bytes
differ."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.indexer import InProcess, embed_pending, scan
from engine.library import Library, hash_file
from tests.files import write_image
from tests.test_crash_safety import assert_consistent
from tests.test_hostile import finishes

KINDS = ("image", "text", "empty", "garbage", "unknown", "fifo", "link", "dangling", "loop", "self")

entries = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 3), st.text("abcdé\u00ff_", min_size=1, max_size=6)),
    min_size=1,
    max_size=18,
)


def build(root: Path, plan) -> int:
    """Make the tree; returns how many readable regular files with a known extension it holds (unique paths)."""
    folders = [root, root / "a", root / "a" / "b", root / "c"]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    readable = 0
    for n, (kind, where, name) in enumerate(plan):
        folder = folders[where]
        stem = f"{name}{n}"
        if kind == "image":
            write_image(folder / f"{stem}.png", seed=n)
            readable += 1
        elif kind == "text":
            (folder / f"{stem}.txt").write_text(f"caption {name} {n}")
            readable += 1
        elif kind == "empty":
            (folder / f"{stem}.wav").write_bytes(b"")
            readable += 1
        elif kind == "garbage":
            (folder / f"{stem}.jpg").write_bytes(os.urandom(64))
            readable += 1
        elif kind == "unknown":
            (folder / f"{stem}.xyz").write_bytes(b"x")
        elif kind == "fifo":
            os.mkfifo(folder / f"{stem}.wav")
        elif kind == "link":
            (folder / f"{stem}_dir").symlink_to(folders[(where + 1) % 4], target_is_directory=True)
        elif kind == "dangling":
            (folder / f"{stem}.png").symlink_to(root / "nowhere.png")
        elif kind == "loop":
            (folder / f"{stem}_up").symlink_to(root, target_is_directory=True)
        else:
            (folder / f"{stem}.png").symlink_to(folder / f"{stem}.png")
    return readable


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=entries)
def test_any_tree_scans_to_a_consistent_library(plan, tiny_model):
    with tempfile.TemporaryDirectory() as temporary:
        base = Path(temporary)
        readable = build(base / "tree", plan)
        library = Library(base / "lib")
        reports = []
        finishes(lambda: reports.append(scan(library, base / "tree")), seconds=60)
        assert reports[0].added == readable == library.count()
        ref = tiny_model.ref
        library.set_model(ref)
        embed_pending(library, InProcess(tiny_model, ref))
        assert library.count("pending") == 0
        assert_consistent(base / "lib")
        for item in library.items(status="embedded"):
            assert item.text is not None or hash_file(item.path) == item.hash
        assert scan(library).added == 0  # a second scan finds nothing new
