"""Row 6 of issue 19, the database: a hand-made or damaged ``library.sqlite`` is refused on opening with a
typed error naming the file; it never hangs a command and never makes one destroy data."""

from __future__ import annotations

import json
import sqlite3

import pytest

from engine.library import Library, LibraryError, validate
from engine.library.schema import SCHEMA, statements
from engine.library.validate import bounded
from tests.hostile.faults import run_child
from tests.libraries import clustered, library_of

RECURSE = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r)"
HOSTILE = {
    "view": [
        "DROP TABLE stores",
        f"CREATE VIEW stores AS {RECURSE} SELECT 'k' AS model, 'vision' AS modality, n AS rows FROM r",
    ],
    "trigger": [
        "CREATE TRIGGER forever AFTER UPDATE ON meta BEGIN "
        f"INSERT INTO meta(key, value) {RECURSE} SELECT 'x' || n, '' FROM r; END",
    ],
}


def _library(tmp_path):
    library_of(tmp_path, clustered(20, dim=8), ["vision"] * 20).close()
    return tmp_path / "lib"


def _hand_edit(folder, statements):
    with sqlite3.connect(folder / "library.sqlite") as db:
        for statement in statements:
            db.execute(statement)


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hand_made_schema_that_would_run_forever_is_refused_at_once(tmp_path, kind):
    folder = _library(tmp_path)
    _hand_edit(folder, HOSTILE[kind])
    done = run_child(
        "import json, sys\nfrom engine.workspace import Workspace, explain\n"
        "try:\n    Workspace.open(sys.argv[1]).summary(); print('null')\n"
        "except Exception as error:\n    print(json.dumps(explain(error)))",
        folder,
        timeout=60,
    )
    kind_name, line = json.loads(done.stdout)
    assert kind_name == "Damaged" and str(folder / "library.sqlite") in line and kind in line


LOGICAL = {
    "a vector row past its file": ["UPDATE embeddings SET row = 1e9 WHERE rowid = (SELECT MAX(rowid) FROM embeddings)"],
    "a negative row": ["UPDATE embeddings SET row = -3 WHERE rowid = (SELECT MIN(rowid) FROM embeddings)"],
    "a zero dimension": ["UPDATE models SET dim = 0"],
    "a negative count": ["UPDATE stores SET rows = -5"],
    "a count below its rows": ["UPDATE stores SET rows = 1"],
    "a generation that is no number": ["UPDATE meta SET value = 'soon' WHERE key = 'generation'"],
    "an unknown modality": ["UPDATE stores SET modality = 'smell'"],
    "a dropped index": ["DROP INDEX embeddings_rows"],
}


@pytest.mark.parametrize("damage", sorted(LOGICAL))
def test_logical_damage_is_refused_naming_the_file_and_nothing_is_cut(tmp_path, damage):
    folder = _library(tmp_path)
    vectors = {path: path.read_bytes() for path in (folder / "vectors").iterdir()}
    _hand_edit(folder, LOGICAL[damage])
    for read_only in (False, True):
        with pytest.raises(LibraryError, match="library.sqlite"):
            Library(folder, read_only=read_only)
    assert {path: path.read_bytes() for path in (folder / "vectors").iterdir()} == vectors


def test_a_file_that_is_no_database_is_refused_naming_it(tmp_path):
    folder = _library(tmp_path)
    (folder / "library.sqlite").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 16)
    for name in ("library.sqlite-wal", "library.sqlite-shm"):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(LibraryError, match=r"library\.sqlite: the library database is damaged"):
        Library(folder)


def test_sqlite_work_under_a_budget_is_interrupted_with_a_typed_error(tmp_path):
    db = sqlite3.connect(":memory:")
    with pytest.raises(LibraryError, match="took too long"), bounded(db, 50, tmp_path / "library.sqlite"):
        db.execute(f"{RECURSE} SELECT COUNT(*) FROM r").fetchone()
    assert db.execute("SELECT 1").fetchone() == (1,)  # the handler is gone afterwards


def test_the_checks_on_opening_cost_the_same_at_any_size(tmp_path, monkeypatch):
    """The checks read through the indexes: 20,000 vectors fit a budget a scan of them would overrun."""
    monkeypatch.setattr(validate, "OPEN_BUDGET", 50)
    path = tmp_path / "library.sqlite"
    db = sqlite3.connect(path)
    for statement in statements(SCHEMA):
        db.execute(statement)
    rows = 20_000
    db.execute("INSERT INTO models VALUES ('k', 'm', 'f', 'M', 8)")
    db.execute("INSERT INTO stores VALUES ('k', 'vision', ?)", (rows,))
    db.executemany("INSERT INTO embeddings VALUES (?, 'k', 'vision', ?, 1.0)", ((f"h{n}", n) for n in range(rows)))
    validate.check(db, path)
    db.close()
