"""Checks of a library database that anything may have made or changed, before anything trusts it.

A hand-made file can hang every command (a recursive view where a table belongs, a trigger that
recurses) and logical damage can destroy data (a committed count below the rows its embeddings
point at made the torn-tail cut truncate a vector file). So opening refuses, naming the file:
views and triggers (BindScope makes none), a missing table, column or index, and values outside
what BindScope writes. The checks read a handful of rows through the indexes and run under a
SQLite progress handler with a fixed budget, so no database makes opening slow.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from engine.library.rows import LibraryError
from engine.library.schema import ADDED_LATER, MAX_DIM, SCHEMA, statements
from engine.modality import Modality

_STEPS = 1000  # SQLite VM instructions between two calls of the progress handler
OPEN_BUDGET = 2_000  # calls (two million instructions): a sound library's checks take a few hundred instructions


class Damaged(LibraryError):
    """The library database is not one BindScope made, or holds values BindScope never writes."""


@contextmanager
def bounded(db: sqlite3.Connection, budget: int, database: Path) -> Iterator[None]:
    """Interrupt the statements run inside after ``budget`` progress-handler calls: a typed error, never a hang."""
    calls = 0

    def handler() -> int:
        nonlocal calls
        calls += 1
        return int(calls > budget)

    db.set_progress_handler(handler, _STEPS)
    try:
        yield
    except sqlite3.OperationalError:
        if calls > budget:
            raise Damaged(f"{database}: checking the database took too long; it is damaged or not a library") from None
        raise
    finally:
        db.set_progress_handler(None, _STEPS)


@cache
def _expected() -> dict[str, set[str]]:
    """Table or index name -> its columns, as the current schema makes them."""
    db = sqlite3.connect(":memory:")
    for statement in statements(SCHEMA):
        db.execute(statement)
    names = db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
    pragma = {"table": "table_info", "index": "index_info"}
    expected = {
        name: {row[2 if kind == "index" else 1] for row in db.execute(f"PRAGMA {pragma[kind]}('{name}')")}
        for kind, name in names
    }
    db.close()
    return expected


def check_objects(db: sqlite3.Connection, database: Path) -> None:
    """No views, no triggers: BindScope makes none, and either can make a plain read run forever."""
    with bounded(db, OPEN_BUDGET, database):
        foreign = db.execute("SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger')").fetchone()
    if foreign is not None:
        raise Damaged(
            f"{database}: holds a {foreign[0]} {foreign[1]!r}, which BindScope never makes; not a library it made"
        )


def check(db: sqlite3.Connection, database: Path) -> None:
    """The current schema's tables, columns and indexes, and the values every command relies on."""
    check_objects(db, database)
    with bounded(db, OPEN_BUDGET, database):
        _check_schema(db, database)
        _check_values(db, database)


def _check_schema(db: sqlite3.Connection, database: Path) -> None:
    kinds = dict(db.execute("SELECT name, type FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall())
    for name, columns in _expected().items():
        if name not in kinds and name in ADDED_LATER:
            continue
        if name not in kinds:
            raise Damaged(f"{database}: its {name!r} is missing; damaged or not a library")
        pragma = "index_info" if kinds[name] == "index" else "table_info"
        found = {row[2 if pragma == "index_info" else 1] for row in db.execute(f"PRAGMA {pragma}('{name}')")}
        if not columns <= found:
            raise Damaged(f"{database}: {name!r} lacks {', '.join(sorted(columns - found))}; damaged or not a library")


def _count(value, what: str, database: Path, least: int = 0, most: int = 1 << 62) -> int:
    if not isinstance(value, int) or not least <= value <= most:
        raise Damaged(f"{database}: {what} is {value!r}, which BindScope never writes; the database is damaged")
    return value


def _check_values(db: sqlite3.Connection, database: Path) -> None:
    for key in ("schema_version", "generation"):
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is not None:
            value = row[0]
            _count(int(value) if isinstance(value, str) and value.isdigit() else value, f"meta {key}", database)
    for key, dim in db.execute("SELECT key, dim FROM models").fetchall():
        _count(dim, f"model {key!r}'s dimension", database, 1, MAX_DIM)
    modalities = {m.value for m in Modality}
    for key, modality, rows in db.execute("SELECT model, modality, rows FROM stores").fetchall():
        where = f"the {modality!r} vectors of model {key!r}"
        if modality not in modalities:
            raise Damaged(f"{database}: vectors of an unknown modality {modality!r}; the database is damaged")
        _count(rows, f"the committed count of {where}", database)
        low, high = (  # one aggregate a query: SQLite reads MIN or MAX alone off the index, both together by a scan
            db.execute(
                f"SELECT {end}(row) FROM embeddings WHERE model = ? AND modality = ?", (key, modality)
            ).fetchone()[0]
            for end in ("MIN", "MAX")
        )
        if low is not None:
            _count(low, f"the first row of {where}", database, 0, rows - 1)
            _count(high, f"the last row of {where} (of {rows:,} committed)", database, 0, rows - 1)
