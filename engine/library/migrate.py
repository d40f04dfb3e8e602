"""Upgrading an older library in place: schema 1 -> 2 moves vectors out of SQLite rows into the vector files;
schema 2 -> 3 adds the moments' tables (segments of long recordings), empty: nothing is encoded again.

Schema 1 kept every vector as a BLOB in an ``embeddings`` table keyed by model *name*. The
upgrade streams those rows, model by model and modality by modality, into the append-only
vector files (``engine.vectors``) and keeps hash, model, modality and scale as rows that point
at them; items gain the ``missing`` flag. It runs inside the library's opening transaction: a
process killed midway leaves schema 1 untouched (the vectors written so far lie past the
committed counts and are cut at the next open). Nothing is encoded again. Schema 1 did not
record which checkpoint a name meant, so its models are marked unverified until the library
is next used with a model of that name (``Library.verify_model``).
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import TYPE_CHECKING, Protocol

import numpy as np

from engine.library.schema import SCHEMA, SEGMENTS, statements
from engine.modality import Modality
from engine.models.identity import UNVERIFIED, ModelRef
from engine.preprocess.windows import stored_hop

if TYPE_CHECKING:
    from engine.vectors import VectorStore

_CHUNK = 8192


class Upgraded(Protocol):
    """What the upgrade needs of the library it runs in (the library opening it, inside its transaction)."""

    def get_meta(self, key: str, default: str | None = None) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def register_model(self, ref: ModelRef, db: sqlite3.Connection | None = None) -> str: ...

    def store(self, key: str) -> VectorStore: ...


def migrate_schema_1(library: Upgraded, db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE items ADD COLUMN missing INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE embeddings RENAME TO embeddings_v1")
    db.execute("DROP INDEX IF EXISTS items_hash")  # schema 2 indexes (hash, modality)
    for statement in statements(SCHEMA):
        db.execute(statement)
    keys: dict[str, str] = {}
    for (name,) in db.execute("SELECT DISTINCT model FROM embeddings_v1").fetchall():
        keys[name] = _move_model(library, db, name)
    active = library.get_meta("model")
    if active is not None:
        if active not in keys:  # a model was chosen but nothing was embedded with it yet
            keys[active] = library.register_model(_unverified_ref(active, 0), db)
        library.set_meta("model", keys[active])
    db.execute("DROP TABLE embeddings_v1")


def migrate_schema_2(db: sqlite3.Connection) -> None:
    """Schema 3 adds tables only: every item, vector and setting stays as it is; long files gain their
    segments at the next ``index``."""
    for statement in statements(SEGMENTS):
        db.execute(statement)


def migrate_schema_3(library: Upgraded, db: sqlite3.Connection) -> None:
    """Schema 4 records the hop each content's windows were cut with (``segmented.hop``). A content cut before is
    given the hop its first two windows show when it has three or more (the last is aligned to the file's end),
    else the library's hop: the one it was cut with unless the hop changed since."""
    db.execute("ALTER TABLE segmented ADD COLUMN hop REAL")
    db.execute("UPDATE segmented SET hop = ?", (stored_hop(library.get_meta("moments_hop")),))
    shown = db.execute(
        """WITH ranked AS (
               SELECT hash, model, modality, start_s, end_s,
                      ROW_NUMBER() OVER (PARTITION BY hash, model, modality ORDER BY start_s, end_s) AS n,
                      COUNT(*) OVER (PARTITION BY hash, model, modality) AS windows
               FROM segments)
           SELECT ROUND((b.start_s - a.start_s) / (a.end_s - a.start_s), 3), a.hash, a.model, a.modality
           FROM ranked a JOIN ranked b ON b.hash = a.hash AND b.model = a.model AND b.modality = a.modality
           WHERE a.n = 1 AND b.n = 2 AND a.windows >= 3 AND a.end_s > a.start_s"""
    ).fetchall()
    db.executemany("UPDATE segmented SET hop = ? WHERE hash = ? AND model = ? AND modality = ?", shown)


def _unverified_ref(name: str, dim: int) -> ModelRef:
    digest = hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
    return ModelRef(name, UNVERIFIED + digest, _title(name), dim, key="v1-" + digest)


def _title(name: str) -> str:
    from engine.models.zoo import entries

    return next((e.title for e in entries() if e.name == name), name)


def _move_model(library: Upgraded, db: sqlite3.Connection, name: str) -> str:
    first = db.execute("SELECT vector FROM embeddings_v1 WHERE model = ? LIMIT 1", (name,)).fetchone()
    dim = len(first[0]) // 4
    key = library.register_model(_unverified_ref(name, dim), db)
    store = library.store(key)
    for (modality,) in db.execute("SELECT DISTINCT modality FROM embeddings_v1 WHERE model = ?", (name,)).fetchall():
        cursor = db.execute(
            "SELECT hash, vector, scale FROM embeddings_v1 WHERE model = ? AND modality = ? ORDER BY rowid",
            (name, modality),
        )
        start = 0
        while chunk := cursor.fetchmany(_CHUNK):
            vectors = np.frombuffer(b"".join(r[1] for r in chunk), np.float32).reshape(len(chunk), dim)
            store.append(Modality(modality), start, vectors)
            db.executemany(
                "INSERT INTO embeddings(hash, model, modality, row, scale) VALUES (?, ?, ?, ?, ?)",
                [(r[0], key, modality, start + n, r[2]) for n, r in enumerate(chunk)],
            )
            start += len(chunk)
        db.execute("INSERT INTO stores(model, modality, rows) VALUES (?, ?, ?)", (key, modality, start))
    return key
