"""Row 14 of issue 19: locks are not damage, a run killed with kill -9 leaves no stale lock (two runs at once
embed each item once: tests/test_crash_safety.py), a model loading for a new library never replaces one an import gave it, and
nested roots hold each file once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from engine.library import Library
from engine.workspace import Workspace, WorkspaceError, explain
from tests.files import write_image
from tests.hostile.faults import ROOT
from tests.libraries import clustered, shard, synthetic_ref

INDEXER = """
import json, sys, time
from engine.workspace import Workspace
workspace = Workspace.open(sys.argv[1], create=True, model=sys.argv[3], device="cpu")
workspace.scan([sys.argv[2]])
slow = lambda phase, done, total: time.sleep(float(sys.argv[4]))
print(json.dumps({"embedded": workspace.embed(progress=slow, batch_size=2).embedded}), flush=True)
"""


def _photos(folder, count=12):
    for i in range(count):
        write_image(folder / f"{i:02d}.png", seed=i)
    return folder


def _indexer(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", INDEXER, *map(str, args)],
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _embedded(library_dir) -> int:
    with sqlite3.connect(f"file:{library_dir / 'library.sqlite'}?mode=ro", uri=True, timeout=5) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM items WHERE status = 'embedded'").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_an_indexing_run_killed_with_kill_9_leaves_no_stale_lock(tmp_path, tiny_weights):
    photos, library_dir = _photos(tmp_path / "photos"), tmp_path / "lib"
    Library(library_dir).close()
    run = _indexer(library_dir, photos, tiny_weights, 1.0)
    while not _embedded(library_dir):  # the run holds the lock and has committed a first batch
        assert run.poll() is None, run.stderr.read()
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    committed = _embedded(library_dir)
    assert (library_dir / "embedding.lock").exists()  # the file stays; its lock went with the process
    workspace = Workspace.open(library_dir, model=str(tiny_weights), device="cpu")
    waited = []
    report = workspace.embed(progress=lambda phase, *_: waited.append(phase))
    workspace.close()
    assert "waiting for another indexing run" not in waited
    assert report.embedded == 12 - committed and _embedded(library_dir) == 12


def test_a_model_given_by_an_import_while_another_loads_is_kept(tmp_path, tiny_weights, monkeypatch):
    photos = _photos(tmp_path / "photos", 3)
    workspace = Workspace.open(tmp_path / "lib", create=True, model=str(tiny_weights), device="cpu")
    workspace.scan([photos])
    imported = synthetic_ref(8)
    loading = Workspace.ref

    def import_meanwhile(self):
        ref = loading(self)  # the model is loaded and named; now another process imports into the new library
        Workspace.open(tmp_path / "lib").import_embeddings(
            shard(tmp_path / "other.parquet", clustered(4, dim=8), ["vision"] * 4, imported)
        )
        return ref

    monkeypatch.setattr(Workspace, "ref", import_meanwhile)
    with pytest.raises(WorkspaceError, match="became this library's model"):
        workspace.embed()
    workspace.close()
    with Library(tmp_path / "lib") as library:
        assert library.model.same_model(imported)
        assert len(library.items(status="embedded")) == 4 and len(library.items(status="pending")) == 3


def test_a_write_lock_held_elsewhere_is_busy_not_damage(tmp_path):
    Library(tmp_path / "lib").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "db.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(30)",
            str(tmp_path / "lib" / "library.sqlite"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        library = Library(tmp_path / "lib", timeout=0.1)  # opening needs no write lock
        with pytest.raises(sqlite3.OperationalError) as raised:
            library.set_labels(["dog"])
        kind, line = explain(raised.value)
        assert kind == "LibraryBusy" and "busy" in line and "damaged" not in line.replace("nothing is damaged", "")
        library.close()
    finally:
        holder.kill()
        holder.wait()


def _settled(workspace, count):
    for _ in range(2):
        report = workspace.scan()
        assert (report.added, report.changed, report.removed, report.missing) == (0, 0, 0, 0)
        assert report.unchanged == count  # nothing read again
    assert workspace.library.count() == count


def test_a_root_inside_another_holds_each_file_once(tmp_path):
    parent = tmp_path / "photos"
    for name in ("a.png", "trip/b.png", "trip/c.png", "trip/deep/d.png"):
        write_image(parent / name, seed=len(name))
    for first, second in ((parent, parent / "trip"), (parent / "trip", parent)):
        workspace = Workspace.open(tmp_path / f"lib-{first.name}", create=True)
        workspace.scan([first])
        workspace.scan([second])
        _settled(workspace, 4)
        roots = {r.id: r.path for r in workspace.library.roots()}
        owners = {i.name: roots[i.root_id] for i in workspace.library.items()}
        assert owners == {"a.png": str(parent), **{n: str(parent / "trip") for n in ("b.png", "c.png", "d.png")}}
        workspace.close()


def test_a_root_moved_into_another_root_settles(tmp_path):
    write_image(tmp_path / "photos" / "a.png", seed=1)
    write_image(tmp_path / "old" / "b.png", seed=2)
    workspace = Workspace.open(tmp_path / "lib", create=True)
    workspace.scan([tmp_path / "photos", tmp_path / "old"])
    (tmp_path / "old").rename(tmp_path / "photos" / "moved")
    assert workspace.move_root(tmp_path / "old", tmp_path / "photos" / "moved") == (1, 1)
    _settled(workspace, 2)
    workspace.close()


IMPORTER = """
import sys
from engine.library.embeddings import BulkWriter
from engine.workspace import Workspace
add = BulkWriter.add
def add_then_pause(self, *args, **kwargs):  # a long import: its transaction stays open until stdin closes
    add(self, *args, **kwargs)
    print("inside", flush=True)
    sys.stdin.readline()
BulkWriter.add = add_then_pause
print(Workspace.open(sys.argv[1]).import_embeddings(sys.argv[2]).changed, flush=True)
"""


def _lines_until(stream, marker: str, seconds: float = 120) -> list[str]:
    """Lines of ``stream`` up to one containing ``marker``; a failure if none comes in ``seconds``."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in stream:
            lines.append(line)
            if marker in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(seconds), f"no {marker!r} in {lines}"
    return lines


@pytest.mark.slow
def test_an_index_during_a_long_import_waits_for_it_saying_so(tmp_path, tiny_weights):  # row 14
    workspace = Workspace.open(tmp_path / "lib", create=True, model=str(tiny_weights), device="cpu")
    workspace.index([_photos(tmp_path / "photos", 2)])
    ref = workspace.library.model
    workspace.close()
    parquet = shard(tmp_path / "elsewhere.parquet", clustered(50, dim=ref.dim), ["vision"] * 50, ref)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "BINDSCOPE_CACHE_DIR": str(tmp_path / "cache")}
    importer = subprocess.Popen(
        [sys.executable, "-c", IMPORTER, str(tmp_path / "lib"), str(parquet)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    index_command = [sys.executable, str(ROOT / "main.py"), "index", str(_photos(tmp_path / "more", 3))]
    indexer = subprocess.Popen(
        [*index_command, "--library", str(tmp_path / "lib"), "--model", str(tiny_weights), "--device", "cpu"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert importer.stdout.readline().strip() == "inside"  # the import's transaction is open
        _lines_until(indexer.stderr, "waiting for an import into this library to finish")
        importer.stdin.close()  # the import goes on and commits
        assert importer.wait(timeout=120) == 0 and importer.stdout.read().strip() == "50"
        assert indexer.wait(timeout=120) == 0, indexer.stderr.read()
    finally:
        for process in (importer, indexer):
            process.kill()
            process.wait()
    with Library(tmp_path / "lib") as library:
        assert len(library.items(status="embedded")) == 2 + 50 + 3
