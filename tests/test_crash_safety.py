"""Real kill -9 in the middle of indexing and of an import, and two processes on one library."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from engine.library import Library
from engine.workspace import Workspace
from tests.files import write_image
from tests.libraries import clustered, shard, stored_vectors, synthetic_ref

ROOT = Path(__file__).resolve().parents[1]

INDEXER = """
import sys, time
from engine.workspace import Workspace
workspace = Workspace.open(sys.argv[1], create=True, model=sys.argv[3], device="cpu")
workspace.scan([sys.argv[2]])
slow = lambda phase, done, total: time.sleep(float(sys.argv[4]))
print("embedded", workspace.embed(progress=slow, batch_size=2).embedded, flush=True)
"""

IMPORTER = """
import sys
from engine.workspace import Workspace
Workspace.open(sys.argv[1], create=True).import_embeddings(sys.argv[2])
print("done", flush=True)
"""


def _run(script: str, *args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _count(library: Path, query: str) -> int:
    try:
        with sqlite3.connect(f"file:{library / 'library.sqlite'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute(query).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def assert_consistent(library_dir: Path) -> Library:
    """Integrity, no item marked embedded without its vector, every vector row inside its committed file."""
    with sqlite3.connect(library_dir / "library.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = db.execute(
            "SELECT COUNT(*) FROM items i WHERE status = 'embedded' AND NOT EXISTS (SELECT 1 FROM embeddings e "
            "WHERE e.hash = i.hash AND e.modality = i.modality AND e.model = (SELECT value FROM meta WHERE key = 'model'))"
        ).fetchone()[0]
        assert orphans == 0
        beyond = db.execute(
            "SELECT COUNT(*) FROM embeddings e JOIN stores s ON s.model = e.model AND s.modality = e.modality "
            "WHERE e.row >= s.rows"
        ).fetchone()[0]
        assert beyond == 0
    library = Library(library_dir)
    if library.model is not None:
        ids, _, vectors = stored_vectors(library)
        assert np.isfinite(vectors).all() and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    return library


def test_kill_9_mid_indexing_then_resume(tmp_path, tiny_weights):
    folder = tmp_path / "photos"
    for i in range(40):
        write_image(folder / f"{i:02d}.png", seed=i)
    library_dir = tmp_path / "lib"
    process = _run(INDEXER, library_dir, folder, tiny_weights, 0.3)
    deadline = time.monotonic() + 120
    embedded = "SELECT COUNT(*) FROM items WHERE status = 'embedded'"
    while _count(library_dir, embedded) < 6 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read().decode()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    library = assert_consistent(library_dir)
    done_before = {i.id for i in library.items(status="embedded")}
    pending = library.items(status="pending")
    assert 6 <= len(done_before) < 40 and len(done_before) + len(pending) == 40
    workspace = Workspace(library, model=str(tiny_weights), device="cpu")
    result = workspace.embed()
    assert result.embedded == len(pending)  # the done ones were not encoded again
    assert len(library.items(status="embedded")) == 40
    assert_consistent(library_dir)


def test_kill_9_mid_import_leaves_the_library_as_it_was(tmp_path):
    ref = synthetic_ref(256)
    folder = tmp_path / "shards"
    folder.mkdir()
    vectors = clustered(8000, 256, clusters=40)
    for n in range(8):
        shard(folder / f"part-{n}.parquet", vectors[n * 1000 : (n + 1) * 1000], ["vision"] * 1000, ref, first=n * 1000)
    library_dir = tmp_path / "lib"
    process = _run(IMPORTER, library_dir, folder)
    deadline = time.monotonic() + 120
    items = "SELECT COUNT(*) FROM items"
    while _count(library_dir, items) < 2000 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    library = assert_consistent(library_dir)
    imported = library.count()
    assert imported % 1000 == 0 and imported < 8000, imported  # whole files only
    workspace = Workspace(library)
    report = workspace.import_embeddings(folder)  # the rerun completes it; what was there is unchanged
    assert library.count() == 8000 and report.changed == 8000 - imported
    assert_consistent(library_dir)


def test_two_processes_on_one_library(tmp_path, tiny_weights):
    folder = tmp_path / "photos"
    for i in range(16):
        write_image(folder / f"{i:02d}.png", seed=i)
    library_dir = tmp_path / "lib"
    Library(library_dir).close()
    first, second = (
        _run(INDEXER, library_dir, folder, tiny_weights, 0.01),
        _run(INDEXER, library_dir, folder, tiny_weights, 0.01),
    )
    embedded = []
    for process in (first, second):
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err.decode()
        embedded.append(int(out.split()[-1]))
    library = assert_consistent(library_dir)
    assert len(library.items()) == 16 and len(library.items(status="embedded")) == 16
    assert sorted(embedded) == [0, 16]  # issue 19 row 14: the second run waited, then found nothing pending


def test_reader_sees_committed_state_while_writer_works(tmp_path, tiny_weights):
    folder = tmp_path / "photos"
    for i in range(6):
        write_image(folder / f"{i}.png", seed=i)
    writer = Workspace.open(tmp_path / "lib", create=True, model=str(tiny_weights), device="cpu")
    reader = Library(tmp_path / "lib")
    writer.scan([folder])
    seen = []
    writer.embed(progress=lambda *_: seen.append(len(reader.items(status="embedded"))), batch_size=2)
    assert seen == sorted(seen) and seen[-1] == 6
