"""Row 3 of issue 19: a library on read-only media whose last writer was killed. Its WAL holds committed
transactions: they are read (never an older state), writes are refused with a typed error, search works and
nothing is changed. The media is a real read-only bind mount, which even root cannot write through."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from engine.library import Library
from tests.hostile.faults import in_mount_namespace
from tests.libraries import clustered

READ_ONLY = """
import json, os, signal, subprocess, sys
from pathlib import Path
from engine.query import Term
from engine.workspace import Workspace, explain
from tests.libraries import clustered, library_of, shard, synthetic_ref

base, shm = Path(sys.argv[1]), sys.argv[2]
vectors, ref = clustered(80, dim=16), synthetic_ref(16)
library_of(base, vectors[:40], ["image"] * 40, ref).close()
killed = subprocess.run([sys.executable, "-c", sys.argv[3], base / "lib",
                         shard(base / "more.parquet", vectors[40:], ["image"] * 40, ref, first=40)])
lib = base / "lib"
wal = lib / "library.sqlite-wal"
if shm == "lost":
    (lib / "library.sqlite-shm").unlink()
files = sorted(os.listdir(lib))
for options in ("bind", "remount,ro,bind"):
    subprocess.run(["mount", "-o", options, lib, lib], check=True)
workspace = Workspace.open(lib)
summary = workspace.summary()
found = workspace.search([Term.item(60)], k=3)
refusals = []
for write in (workspace.scan, lambda: workspace.set_labels(["dog"]), workspace.forget_missing):
    try:
        write()
    except Exception as error:
        refusals.append(explain(error))
workspace.close()
print(json.dumps({
    "killed": killed.returncode, "wal": wal.stat().st_size, "read_only": summary.read_only,
    "embedded": summary.embedded, "top": [h.item_id for g in found.results.by_modality.values() for h in g][:1],
    "refusals": refusals, "unchanged": sorted(os.listdir(lib)) == files,
}))
"""

KILLED_WRITER = """
import os, signal, sys
from engine.exchange import import_embeddings
from engine.library import Library
import_embeddings(Library(sys.argv[1]), sys.argv[2])
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("shm", ["kept", "lost"])
def test_a_read_only_library_shows_what_its_killed_writer_committed(tmp_path, shm):
    seen = in_mount_namespace(READ_ONLY, tmp_path, shm, KILLED_WRITER)
    assert seen["killed"] == -9 and seen["wal"] > 0  # the second import is in the WAL only
    assert seen["read_only"] and seen["embedded"] == 80
    scores = clustered(80, dim=16) @ clustered(80, dim=16)[59]
    scores[59] = -2  # the query item itself is not a result
    assert seen["top"] == [int(np.argmax(scores)) + 1]  # ids follow the rows
    assert len(seen["refusals"]) == 3
    assert all(kind == "LibraryError" and "read-only" in line for kind, line in seen["refusals"])
    assert seen["unchanged"]
    with Library(tmp_path / "lib") as library:  # writable again: nothing was damaged, nothing lost
        assert library.quick_check() == "ok" and library.count() == 80


def test_read_only_database_files_in_a_writable_folder_open_read_only(tmp_path):
    """The -wal or -shm owned by someone else (a file SQLite cannot write): read-only, not 'unusable'."""
    in_mount_namespace(
        """
import json, subprocess, sys
from pathlib import Path
from engine.library import Library
from tests.libraries import clustered, library_of
lib = library_of(Path(sys.argv[1]), clustered(10, dim=8), ["image"] * 10)
wal = Path(sys.argv[1]) / "lib" / "library.sqlite-wal"
subprocess.run(["mount", "--bind", "-o", "ro", str(wal), str(wal)], check=True)
with Library(Path(sys.argv[1]) / "lib") as reader:
    print(json.dumps({"read_only": reader.read_only, "items": reader.count()}))
assert reader.read_only and reader.count
""",
        tmp_path,
    )
    with Library(tmp_path / "lib") as library:
        assert library.quick_check() == "ok" and library.count() == 10
    with sqlite3.connect(tmp_path / "lib" / "library.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
