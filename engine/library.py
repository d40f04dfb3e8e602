"""The persistent store of a library: its roots, items, their status and errors, and embeddings.

A library is a folder holding ``library.sqlite`` (WAL mode, so readers never block the one
writer and a killed process leaves only whole transactions) and ``cache/`` (the vector index
and map, which can always be rebuilt). Embeddings are keyed by (content hash, model name),
so a moved, renamed or duplicated file is never encoded twice, and item status is relative
to the library's active model.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.modality import Modality

DATABASE = "library.sqlite"
SCHEMA_VERSION = 1
PENDING, EMBEDDED, FAILED = "pending", "embedded", "failed"
_MAX_VARIABLES = 900

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    root_id INTEGER REFERENCES roots(id) ON DELETE CASCADE,
    path TEXT UNIQUE,
    text TEXT,
    modality TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    mtime REAL NOT NULL DEFAULT 0,
    hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'embedded', 'failed')),
    error_kind TEXT,
    error TEXT,
    updated REAL NOT NULL,
    CHECK ((path IS NULL) != (text IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS items_text ON items(text) WHERE text IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_hash ON items(hash);
CREATE INDEX IF NOT EXISTS items_status ON items(status, modality);
CREATE TABLE IF NOT EXISTS embeddings (
    hash TEXT NOT NULL,
    model TEXT NOT NULL,
    modality TEXT NOT NULL,
    vector BLOB NOT NULL,
    scale REAL NOT NULL,
    PRIMARY KEY (hash, model, modality)
);
"""


class LibraryError(Exception):
    """A library folder that cannot be opened or used (not a library, newer schema, unwritable)."""


@dataclass(frozen=True)
class Root:
    id: int
    path: str


@dataclass(frozen=True)
class Item:
    id: int
    modality: Modality
    path: str | None
    text: str | None
    hash: str
    status: str
    error_kind: str | None = None
    error: str | None = None
    size: int = 0
    mtime: float = 0.0
    root_id: int | None = None

    @property
    def name(self) -> str:
        """What a person calls it: the file name, or the text itself."""
        return Path(self.path).name if self.path else (self.text or "")

    @property
    def source(self) -> str:
        """What a loader reads: the path, or the text."""
        return self.path if self.path is not None else self.text


def hash_text(text: str) -> str:
    return "text:" + hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def hash_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class Library:
    """One library folder. Open it with ``Library(folder)``; ``create=False`` refuses to make a new one."""

    def __init__(self, folder: str | Path, *, create: bool = True, timeout: float = 60.0):
        self.folder = Path(folder).expanduser().resolve()
        database = self.folder / DATABASE
        if not database.exists():
            if not create:
                raise LibraryError(f"{self.folder}: not a BindScope library (no {DATABASE})")
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise LibraryError(f"{self.folder}: cannot create the library folder ({error.strerror})") from None
        self._db = sqlite3.connect(database, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.row_factory = sqlite3.Row
            with self.transaction():
                for statement in _statements(_SCHEMA):  # executescript would commit mid-transaction
                    self._db.execute(statement)
                version = self.get_meta("schema_version")
                if version is None:
                    self.set_meta("schema_version", str(SCHEMA_VERSION))
                elif int(version) > SCHEMA_VERSION:
                    raise LibraryError(f"{self.folder}: made by a newer BindScope (schema {version}); update BindScope")
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise LibraryError(f"{self.folder}: the library database is unusable ({error})") from None
        except LibraryError:
            self._db.close()
            raise

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def cache_dir(self) -> Path:
        path = self.folder / "cache"
        path.mkdir(exist_ok=True)
        return path

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time, all or nothing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- settings kept with the library ----------------------------------------------------

    @property
    def model(self) -> str | None:
        """The model whose embeddings item statuses refer to."""
        return self.get_meta("model")

    def set_model(self, name: str) -> None:
        """Switch the active model; items already embedded by it become embedded, the rest pending."""
        with self.transaction():
            self.set_meta("model", name)
            self._db.execute(
                """UPDATE items SET status = CASE WHEN EXISTS (
                       SELECT 1 FROM embeddings e WHERE e.hash = items.hash AND e.model = ? AND e.modality = items.modality)
                   THEN 'embedded' ELSE 'pending' END, error_kind = NULL, error = NULL""",
                (name,),
            )

    @property
    def labels(self) -> list[str]:
        """The zero-shot label list saved with the library."""
        return json.loads(self.get_meta("labels", "[]"))

    def set_labels(self, labels: Iterable[str]) -> None:
        cleaned = list(dict.fromkeys(label.strip() for label in labels if label.strip()))
        with self.transaction():
            self.set_meta("labels", json.dumps(cleaned))

    # -- roots and items ---------------------------------------------------------------------

    def add_root(self, path: str | Path) -> Root:
        path = str(Path(path).expanduser().resolve())
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO roots(path, added) VALUES (?, ?)", (path, time.time()))
            row = db.execute("SELECT id, path FROM roots WHERE path = ?", (path,)).fetchone()
        return Root(row["id"], row["path"])

    def roots(self) -> list[Root]:
        return [Root(r["id"], r["path"]) for r in self._db.execute("SELECT id, path FROM roots ORDER BY path")]

    def remove_root(self, root_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM roots WHERE id = ?", (root_id,))
            self._collect_orphans(db)

    def add_texts(self, texts: Iterable[str]) -> list[int]:
        """Texts as items of their own (a caption list, label prompts); returns their ids."""
        ids = []
        now = time.time()
        with self.transaction() as db:
            for text in texts:
                text = text.strip()
                if not text:
                    continue
                db.execute(
                    "INSERT OR IGNORE INTO items(text, modality, hash, status, updated) VALUES (?, 'text', ?, ?, ?)",
                    (text, hash_text(text), self._status_for(db, hash_text(text), Modality.TEXT), now),
                )
                ids.append(db.execute("SELECT id FROM items WHERE text = ?", (text,)).fetchone()[0])
        return ids

    def _status_for(self, db: sqlite3.Connection, content_hash: str, modality: Modality) -> str:
        model = self.model
        if (
            model
            and db.execute(
                "SELECT 1 FROM embeddings WHERE hash = ? AND model = ? AND modality = ?",
                (content_hash, model, modality.value),
            ).fetchone()
        ):
            return EMBEDDED
        return PENDING

    def file_states(self, root_id: int) -> dict[str, tuple[int, float, str, str]]:
        """path -> (size, mtime, hash, modality) of the files recorded under a root."""
        rows = self._db.execute("SELECT path, size, mtime, hash, modality FROM items WHERE root_id = ?", (root_id,))
        return {r["path"]: (r["size"], r["mtime"], r["hash"], r["modality"]) for r in rows}

    def upsert_files(self, root_id: int, files: list[tuple[str, Modality, int, float, str]]) -> None:
        """Record new or changed files (path, modality, size, mtime, hash) in one transaction."""
        now = time.time()
        with self.transaction() as db:
            for path, modality, size, mtime, content_hash in files:
                status = self._status_for(db, content_hash, modality)
                db.execute(
                    """INSERT INTO items(root_id, path, modality, size, mtime, hash, status, updated)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(path) DO UPDATE SET root_id = excluded.root_id, modality = excluded.modality,
                           size = excluded.size, mtime = excluded.mtime, hash = excluded.hash, status = excluded.status,
                           error_kind = NULL, error = NULL, updated = excluded.updated""",
                    (root_id, path, modality.value, size, mtime, content_hash, status, now),
                )

    def remove_paths(self, paths: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM items WHERE path = ?", [(p,) for p in paths])
            self._collect_orphans(db)

    def _collect_orphans(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM embeddings WHERE hash NOT IN (SELECT hash FROM items)")

    def _item(self, row: sqlite3.Row) -> Item:
        return Item(
            row["id"],
            Modality(row["modality"]),
            row["path"],
            row["text"],
            row["hash"],
            row["status"],
            row["error_kind"],
            row["error"],
            row["size"],
            row["mtime"],
            row["root_id"],
        )

    def items(
        self, modality: Modality | None = None, status: str | None = None, ids: Iterable[int] | None = None
    ) -> list[Item]:
        query, args = "SELECT * FROM items WHERE 1 = 1", []
        if modality is not None:
            query += " AND modality = ?"
            args.append(Modality(modality).value)
        if status is not None:
            query += " AND status = ?"
            args.append(status)
        if ids is None:
            return [self._item(r) for r in self._db.execute(query + " ORDER BY id", args)]
        ids = list(ids)
        found: list[Item] = []
        for start in range(0, len(ids), _MAX_VARIABLES):  # SQLite caps the variables of one statement
            chunk = ids[start : start + _MAX_VARIABLES]
            rows = self._db.execute(query + f" AND id IN ({','.join('?' * len(chunk))})", [*args, *chunk])
            found += [self._item(r) for r in rows]
        return sorted(found, key=lambda item: item.id)

    def item(self, item_id: int) -> Item | None:
        row = self._db.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        return self._item(row) if row else None

    def item_by_path(self, path: str | Path) -> Item | None:
        row = self._db.execute("SELECT * FROM items WHERE path = ?", (str(Path(path).resolve()),)).fetchone()
        return self._item(row) if row else None

    def counts(self, root_id: int | None = None) -> dict[tuple[str, str], int]:
        """(modality, status) -> number of items, for the whole library or one root."""
        query = "SELECT modality, status, COUNT(*) FROM items"
        args: tuple = ()
        if root_id is not None:
            query += " WHERE root_id = ?"
            args = (root_id,)
        return {(m, s): n for m, s, n in self._db.execute(query + " GROUP BY modality, status", args)}

    # -- embeddings --------------------------------------------------------------------------

    def record_results(
        self, model: str, results: Iterable[tuple[Item, np.ndarray | None, float | None, str | None, str | None]]
    ) -> None:
        """Store a batch's outcomes atomically: (item, embedding, scale, error kind, error) each."""
        now = time.time()
        with self.transaction() as db:
            for item, vector, scale, kind, error in results:
                if vector is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO embeddings(hash, model, modality, vector, scale) VALUES (?, ?, ?, ?, ?)",
                        (item.hash, model, item.modality.value, np.asarray(vector, np.float32).tobytes(), float(scale)),
                    )
                    db.execute(
                        "UPDATE items SET status = ?, error_kind = NULL, error = NULL, updated = ? WHERE hash = ? AND modality = ?",
                        (EMBEDDED, now, item.hash, item.modality.value),
                    )
                else:
                    db.execute(
                        "UPDATE items SET status = ?, error_kind = ?, error = ?, updated = ? WHERE id = ?",
                        (FAILED, kind, error, now, item.id),
                    )

    def embeddings(
        self, model: str, modality: Modality | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(item ids, modality keys, unit vectors [N, D] float32, scales) of every embedded item."""
        query = """SELECT i.id, i.modality, e.vector, e.scale FROM items i
                   JOIN embeddings e ON e.hash = i.hash AND e.modality = i.modality AND e.model = ?"""
        args: list = [model]
        if modality is not None:
            query += " WHERE i.modality = ?"
            args.append(Modality(modality).value)
        rows = self._db.execute(query + " ORDER BY i.id", args).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, "<U8"), np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        modalities = np.array([r[1] for r in rows])
        vectors = np.frombuffer(b"".join(r[2] for r in rows), np.float32).reshape(len(rows), -1)
        scales = np.fromiter((r[3] for r in rows), np.float32, len(rows))
        return ids, modalities, vectors.copy(), scales

    def embedding(self, item_id: int, model: str) -> tuple[np.ndarray, float] | None:
        row = self._db.execute(
            """SELECT e.vector, e.scale FROM items i JOIN embeddings e
               ON e.hash = i.hash AND e.modality = i.modality AND e.model = ? WHERE i.id = ?""",
            (model, item_id),
        ).fetchone()
        return (np.frombuffer(row[0], np.float32).copy(), row[1]) if row else None

    def state(self, model: str) -> str:
        """A token that changes whenever the set of embedded items for ``model`` changes (cache key)."""
        row = self._db.execute(
            """SELECT COUNT(*), COALESCE(SUM(i.id), 0), COALESCE(MAX(i.updated), 0) FROM items i
               JOIN embeddings e ON e.hash = i.hash AND e.modality = i.modality AND e.model = ?""",
            (model,),
        ).fetchone()
        return hashlib.blake2b(f"{model}|{row[0]}|{row[1]}|{row[2]}".encode(), digest_size=8).hexdigest()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
