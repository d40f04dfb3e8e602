"""A real kill -9 in the middle of indexing, and two processes on one library."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from engine.indexer import embed_pending, scan
from engine.library import Library
from engine.models.factory import load_model
from tests.files import write_image

INDEXER = """
import sys, time
from engine.indexer import embed_pending, scan
from engine.library import Library
from engine.models.factory import load_model
library = Library(sys.argv[1])
model = load_model(sys.argv[3], device="cpu")
scan(library, sys.argv[2])
slow = lambda phase, done, total: time.sleep(float(sys.argv[4]))
embed_pending(library, model, progress=slow, batch_size=2)
"""


def _run(library: Path, folder: Path, weights: Path, pause: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen(
        [sys.executable, "-c", INDEXER, str(library), str(folder), str(weights), str(pause)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _embedded(library: Path) -> int:
    try:
        with sqlite3.connect(f"file:{library / 'library.sqlite'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM items WHERE status = 'embedded'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_9_mid_indexing_then_resume(tmp_path, tiny_weights):
    folder = tmp_path / "photos"
    for i in range(40):
        write_image(folder / f"{i:02d}.png", seed=i)
    library_dir = tmp_path / "lib"
    process = _run(library_dir, folder, tiny_weights, pause=0.3)
    deadline = time.monotonic() + 120
    while _embedded(library_dir) < 6 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read().decode()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    with sqlite3.connect(library_dir / "library.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # every embedded item has its embedding; nothing half-written
        orphans = db.execute(
            "SELECT COUNT(*) FROM items i WHERE status = 'embedded' AND NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.hash = i.hash AND e.modality = i.modality)"
        ).fetchone()[0]
        assert orphans == 0
    library = Library(library_dir)
    done_before = {i.id for i in library.items(status="embedded")}
    pending = library.items(status="pending")
    assert 6 <= len(done_before) < 40 and len(done_before) + len(pending) == 40
    model = load_model(tiny_weights, device="cpu")
    result = embed_pending(library, model)
    assert result.embedded == len(pending)  # the done ones were not encoded again
    assert len(library.items(status="embedded")) == 40


def test_two_processes_on_one_library(tmp_path, tiny_weights):
    folder = tmp_path / "photos"
    for i in range(16):
        write_image(folder / f"{i:02d}.png", seed=i)
    library_dir = tmp_path / "lib"
    Library(library_dir).close()
    first, second = _run(library_dir, folder, tiny_weights, 0.01), _run(library_dir, folder, tiny_weights, 0.01)
    for process in (first, second):
        assert process.wait(timeout=180) == 0, process.stderr.read().decode()
    library = Library(library_dir)
    assert len(library.items()) == 16 and len(library.items(status="embedded")) == 16
    with sqlite3.connect(library_dir / "library.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_reader_sees_committed_state_while_writer_works(tmp_path, tiny_model):
    folder = tmp_path / "photos"
    for i in range(6):
        write_image(folder / f"{i}.png", seed=i)
    writer, reader = Library(tmp_path / "lib"), Library(tmp_path / "lib")
    scan(writer, folder)
    seen = []
    embed_pending(
        writer, tiny_model, progress=lambda *_: seen.append(len(reader.items(status="embedded"))), batch_size=2
    )
    assert seen == sorted(seen) and seen[-1] == 6
