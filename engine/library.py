"""The source of truth of a library: its roots, items, their status and errors, labels and models.

A library is a folder holding ``library.sqlite`` (WAL mode: readers never block the one writer,
and a killed process leaves only whole transactions), ``vectors/`` (each model's vectors, see
``engine.vectors``) and ``cache/`` (search indexes and maps, which can always be rebuilt).

Embeddings are keyed by (content hash, model, modality), so a moved, renamed or duplicated
file is never encoded twice, and item status is relative to the library's active model. An
embedding row points at its vector's row in the model's vector file; the vector is written and
fsynced inside the same write transaction, before the row is committed. ``generation`` is
bumped in every transaction that changes items or embeddings, so caches check it in O(1).

Items whose file is gone are kept, marked ``missing`` (offline), with their embeddings: an
unmounted drive or a moved folder loses nothing, and nothing is encoded again when it is back.
Paths are stored losslessly: one the file system gives as bytes that are not UTF-8 is kept as
a BLOB of those bytes (``display`` shows it with replacement characters).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from engine.modality import Modality
from engine.models.identity import ModelRef
from engine.vectors import VectorStore

DATABASE = "library.sqlite"
SCHEMA_VERSION = 2
PENDING, EMBEDDED, FAILED = "pending", "embedded", "failed"
IMPORTED = "import:"  # starts the identity of an imported item: never a hash this library computed from content
STATUSES = (PENDING, EMBEDDED, FAILED)
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
    missing INTEGER NOT NULL DEFAULT 0,
    CHECK ((path IS NULL) != (text IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS items_text ON items(text) WHERE text IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_hash ON items(hash, modality);
CREATE INDEX IF NOT EXISTS items_status ON items(status, modality);
CREATE INDEX IF NOT EXISTS items_root ON items(root_id);
CREATE TABLE IF NOT EXISTS models (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    dim INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS model_failures (
    model TEXT NOT NULL REFERENCES models(key),
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    error_kind TEXT NOT NULL,
    error TEXT NOT NULL,
    PRIMARY KEY (model, item_id)
);
CREATE TABLE IF NOT EXISTS embeddings (
    hash TEXT NOT NULL,
    model TEXT NOT NULL REFERENCES models(key),
    modality TEXT NOT NULL,
    row INTEGER NOT NULL,
    scale REAL NOT NULL,
    PRIMARY KEY (hash, model, modality)
);
CREATE UNIQUE INDEX IF NOT EXISTS embeddings_rows ON embeddings(model, modality, row);
CREATE TABLE IF NOT EXISTS stores (
    model TEXT NOT NULL REFERENCES models(key),
    modality TEXT NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (model, modality)
);
CREATE TABLE IF NOT EXISTS label_vectors (
    model TEXT NOT NULL REFERENCES models(key),
    label TEXT NOT NULL,
    templates TEXT NOT NULL,
    vector BLOB NOT NULL,
    scale REAL NOT NULL,
    PRIMARY KEY (model, label, templates)
)
"""


class LibraryError(Exception):
    """A library folder that cannot be opened or used (not a library, newer schema, damaged, read-only)."""


@dataclass(frozen=True)
class Root:
    id: int
    path: str

    @property
    def state(self) -> str:
        """ "online", "missing" (not there: an unmounted drive) or "unreadable" (no permission)."""
        return folder_state(self.path)


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
    missing: bool = False

    @property
    def name(self) -> str:
        """What a person calls it: the file name, or the text itself."""
        return display(Path(self.path).name) if self.path else (self.text or "")

    @property
    def source(self) -> str:
        """What a loader reads: the path, or the text."""
        return self.path if self.path is not None else self.text


class Record(NamedTuple):
    """A file (or text) as an import brings it: where it is, what it is and its content hash."""

    root_id: int | None
    path: str | None
    text: str | None
    modality: Modality
    size: int
    mtime: float
    hash: str


@dataclass(frozen=True)
class Outcome:
    """One item's embedding result: a unit vector and its scale, or the error that stopped it."""

    item: Item
    vector: np.ndarray | None = None
    scale: float | None = None
    error_kind: str | None = None
    error: str | None = None


def display(text: str) -> str:
    """A path or text as a person reads it: bytes that are not UTF-8 shown as replacement characters."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _stored(path: str) -> str | bytes:
    """A path as the database keeps it: text, or the raw bytes when they are not UTF-8."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path)


def _loaded(value: str | bytes | None) -> str | None:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def folder_state(path: str) -> str:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"
    if not stat.S_ISDIR(info.st_mode):
        return "missing"
    return "online" if os.access(path, os.R_OK | os.X_OK) else "unreadable"


def imported(content_hash: str) -> bool:
    """Whether an identity came with an import (its vector is the file's word, not this library's)."""
    return content_hash.startswith(IMPORTED)


def hash_text(text: str) -> str:
    return "text:" + hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def hash_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The content hash of a regular file. Opened without blocking and checked after opening, so a FIFO,
    a device or a socket put in a file's place is refused (``OSError``) instead of read forever."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path}: not a regular file")
        os.set_blocking(descriptor, True)
        digest = hashlib.blake2b(digest_size=16)
        while block := os.read(descriptor, chunk):
            digest.update(block)
        return digest.hexdigest()
    finally:
        os.close(descriptor)


class Library:
    """One library folder. ``create=False`` refuses to make a new one; a library whose folder cannot
    be written opens read-only (status, search, map and export work; anything that writes says why not)."""

    def __init__(self, folder: str | Path, *, create: bool = True, timeout: float = 60.0, read_only: bool = False):
        self.folder = Path(folder).expanduser().resolve()
        database = self.folder / DATABASE
        if not database.exists():
            if not create or read_only:
                raise LibraryError(f"{self.folder}: not a BindScope library (no {DATABASE})")
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise LibraryError(f"{self.folder}: cannot create the library folder ({error.strerror})") from None
        self.read_only = read_only or not os.access(self.folder, os.W_OK)
        self.read_only |= database.exists() and not os.access(database, os.W_OK)
        if self.read_only and not database.exists():
            raise LibraryError(f"{self.folder}: cannot create a library here (the folder is read-only)")
        self._stores: dict[str, VectorStore] = {}
        self._timeout = timeout
        self._db = self._connect(database, timeout)
        try:
            if self.read_only:
                self._check_version(self.get_meta("schema_version"))
            else:
                self._prepare()
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise LibraryError(f"{self.folder}: the library database is unusable ({error})") from None
        except BaseException:
            self._db.close()
            raise

    def _connect(self, database: Path, timeout: float) -> sqlite3.Connection:
        try:
            if self.read_only:
                # A read-only folder cannot hold WAL's shared-memory file: read the database as it stands.
                uri = f"{database.as_uri()}?mode=ro&immutable=1"
                db = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)
            else:
                db = sqlite3.connect(database, timeout=timeout, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.row_factory = sqlite3.Row
            return db
        except sqlite3.DatabaseError as error:
            raise LibraryError(f"{self.folder}: the library database is unusable ({error})") from None

    def _check_version(self, version: str | None) -> None:
        if version is not None and int(version) > SCHEMA_VERSION:
            raise LibraryError(f"{self.folder}: made by a newer BindScope (schema {version}); update BindScope")
        if self.read_only and version is not None and int(version) < SCHEMA_VERSION:
            raise LibraryError(
                f"{self.folder}: made by an older BindScope (schema {version}); "
                "it must be upgraded in place, which a read-only folder does not allow"
            )

    def _prepare(self) -> None:
        """Create the schema or upgrade an older one in place (one transaction); then cut torn vector tails.

        A library at the current schema is opened without waiting for the write lock, so opening never
        stalls behind another process's long write (an import holds one transaction per file)."""
        version = self._version()
        self._check_version(version)
        if version is None or int(version) < SCHEMA_VERSION:
            with self.transaction() as db:
                version = self._version()  # another process may have done it meanwhile
                self._check_version(version)
                if version is not None and int(version) < SCHEMA_VERSION:
                    from engine.migrate import migrate_schema_1

                    migrate_schema_1(self, db)
                for statement in _statements(_SCHEMA):  # executescript would commit mid-transaction
                    db.execute(statement)
                self.set_meta("schema_version", str(SCHEMA_VERSION))
            if version is not None:
                self._db.execute("VACUUM")  # the vectors left the database: give their pages back to the disk
        self._cut_torn_tails()

    def _version(self) -> str | None:
        if not self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
            return None
        return self.get_meta("schema_version")

    def _cut_torn_tails(self) -> None:
        """Vectors written by a process killed before its commit lie past the committed counts: cut them, if no
        writer holds the lock now (a writer overwrites them anyway at its next append)."""
        try:
            self._db.execute("PRAGMA busy_timeout = 0")
            with self.transaction() as db:
                for key, modality, rows in db.execute("SELECT model, modality, rows FROM stores").fetchall():
                    self.store(key).cut(Modality(modality), rows)
        except sqlite3.OperationalError:  # locked by a writer
            pass
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _require_writable(self) -> None:
        if self.read_only:
            raise LibraryError(f"{self.folder}: the library is read-only here; it can be searched but not changed")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time, all or nothing."""
        self._require_writable()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several queries see one consistent state while a writer works."""
        self._db.execute("BEGIN")
        try:
            yield self._db
        finally:
            self._db.execute("COMMIT")

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _bump(self) -> None:
        """Called inside every write transaction that changes items or embeddings."""
        self._db.execute(
            """INSERT INTO meta(key, value) VALUES ('generation', '1')
               ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"""
        )

    @property
    def generation(self) -> int:
        """A counter bumped with every change to items or embeddings: caches compare it in O(1)."""
        return int(self.get_meta("generation", "0"))

    def quick_check(self) -> str:
        """SQLite's ``PRAGMA quick_check``: "ok", or what is damaged."""
        rows = [r[0] for r in self._db.execute("PRAGMA quick_check").fetchall()]
        return "ok" if rows == ["ok"] else "; ".join(rows[:5])

    # -- models -----------------------------------------------------------------------------

    def register_model(self, ref: ModelRef, db: sqlite3.Connection | None = None, rename: bool = True) -> str:
        """Record a model, or find it recorded under another name (renamed to ``ref``'s unless ``rename`` is
        False: an imported file never names the library's model); returns its key. Inside the caller's
        transaction when ``db`` is given."""
        if db is None:
            with self.transaction() as db:
                return self.register_model(ref, db, rename)
        row = db.execute("SELECT key FROM models WHERE fingerprint = ?", (ref.fingerprint,)).fetchone()
        if row is not None and not rename:
            return row[0]
        if row is not None:
            db.execute("UPDATE models SET name = ?, title = ? WHERE key = ?", (ref.name, ref.title, row[0]))
            return row[0]
        db.execute(
            "INSERT INTO models(key, name, fingerprint, title, dim) VALUES (?, ?, ?, ?, ?)",
            (ref.key, ref.name, ref.fingerprint, ref.title, ref.dim),
        )
        return ref.key

    def key_of(self, ref: ModelRef) -> str | None:
        """The key this library stores a model's vectors under; None if it has none of them."""
        row = self._db.execute("SELECT key FROM models WHERE fingerprint = ?", (ref.fingerprint,)).fetchone()
        return row[0] if row else None

    def model_ref(self, key: str | None) -> ModelRef | None:
        if key is None:
            return None
        row = self._db.execute("SELECT name, fingerprint, title, dim FROM models WHERE key = ?", (key,)).fetchone()
        return ModelRef(row["name"], row["fingerprint"], row["title"], row["dim"], key) if row else None

    @property
    def model(self) -> ModelRef | None:
        """The model the library's items and searches refer to; None until something is embedded."""
        return self.model_ref(self.get_meta("model"))

    def verify_model(self, ref: ModelRef) -> ModelRef:
        """Give the active model recorded before fingerprints existed the fingerprint of the model found under
        its name (same name and dimension): from then on the library knows exactly which checkpoint it is."""
        active = self.model
        if active is None or active.verified or active.name != ref.name or active.dim != ref.dim:
            return active
        with self.transaction() as db:
            db.execute(
                "UPDATE models SET fingerprint = ?, title = ? WHERE key = ?", (ref.fingerprint, ref.title, active.key)
            )
        return self.model

    def set_model(self, ref: ModelRef) -> None:
        """Make ``ref`` the active model: items it embedded become embedded, those it failed on failed
        (with its reasons), the rest pending."""
        with self.transaction() as db:
            key = self.register_model(ref, db)
            self.set_meta("model", key)
            db.execute(
                """UPDATE items SET
                       status = CASE WHEN EXISTS (SELECT 1 FROM embeddings e
                                                  WHERE e.hash = items.hash AND e.model = :key AND e.modality = items.modality)
                                     THEN 'embedded'
                                     WHEN EXISTS (SELECT 1 FROM model_failures f WHERE f.model = :key AND f.item_id = items.id)
                                     THEN 'failed' ELSE 'pending' END,
                       error_kind = (SELECT f.error_kind FROM model_failures f WHERE f.model = :key AND f.item_id = items.id),
                       error = (SELECT f.error FROM model_failures f WHERE f.model = :key AND f.item_id = items.id)""",
                {"key": key},
            )
            db.execute("DELETE FROM model_failures WHERE model = ?", (key,))
            self._bump()

    def store(self, key: str) -> VectorStore:
        """The vector files of the model with this key."""
        if key not in self._stores:
            row = self._db.execute("SELECT dim FROM models WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise LibraryError(f"{self.folder}: no model {key} is recorded in this library")
            self._stores[key] = VectorStore(self.folder, key, int(row[0]))
        return self._stores[key]

    def store_rows(self, key: str) -> dict[Modality, int]:
        """Committed vector rows per modality for a model: the search index's O(1) staleness check."""
        rows = self._db.execute("SELECT modality, rows FROM stores WHERE model = ?", (key,))
        return {Modality(m): n for m, n in rows}

    def models_with_vectors(self) -> list[tuple[ModelRef, int]]:
        rows = self._db.execute(
            "SELECT m.key, COUNT(e.hash) FROM models m LEFT JOIN embeddings e ON e.model = m.key GROUP BY m.key"
        ).fetchall()
        return [(self.model_ref(key), count) for key, count in rows]

    # -- settings kept with the library ----------------------------------------------------

    @property
    def labels(self) -> list[str]:
        """The zero-shot label list saved with the library."""
        try:
            labels = json.loads(self.get_meta("labels", "[]"))
        except ValueError:
            return []
        return [label for label in labels if isinstance(label, str)] if isinstance(labels, list) else []

    def set_labels(self, labels: Iterable[str]) -> list[str]:
        cleaned = list(dict.fromkeys(label.strip() for label in labels if label.strip()))
        with self.transaction():
            self.set_meta("labels", json.dumps(cleaned))
        return cleaned

    def label_vectors(
        self, key: str, labels: Sequence[str], templates: Sequence[str]
    ) -> dict[str, tuple[np.ndarray, float]]:
        """Stored text embeddings of labels (prompts averaged) for a model: zero-shot without the model."""
        signature = json.dumps(list(templates))
        found = {}
        for start in range(0, len(labels), _MAX_VARIABLES):
            chunk = list(labels[start : start + _MAX_VARIABLES])
            rows = self._db.execute(
                f"SELECT label, vector, scale FROM label_vectors WHERE model = ? AND templates = ? "
                f"AND label IN ({','.join('?' * len(chunk))})",
                [key, signature, *chunk],
            )
            found.update({r[0]: (np.frombuffer(r[1], np.float32).copy(), float(r[2])) for r in rows})
        return found

    def save_label_vectors(self, key: str, templates: Sequence[str], vectors: dict[str, tuple[np.ndarray, float]]):
        if self.read_only:
            return
        signature = json.dumps(list(templates))
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO label_vectors(model, label, templates, vector, scale) VALUES (?, ?, ?, ?, ?)",
                [
                    (key, label, signature, np.asarray(v, np.float32).tobytes(), float(s))
                    for label, (v, s) in vectors.items()
                ],
            )

    # -- roots ------------------------------------------------------------------------------

    def add_root(self, path: str | Path) -> Root:
        path = os.path.realpath(os.path.expanduser(os.fspath(path)))
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO roots(path, added) VALUES (?, ?)", (_stored(path), time.time()))
            row = db.execute("SELECT id, path FROM roots WHERE path = ?", (_stored(path),)).fetchone()
        return Root(row["id"], _loaded(row["path"]))

    def roots(self) -> list[Root]:
        return [Root(r["id"], _loaded(r["path"])) for r in self._db.execute("SELECT id, path FROM roots ORDER BY path")]

    def root(self, root_id: int) -> Root | None:
        row = self._db.execute("SELECT id, path FROM roots WHERE id = ?", (root_id,)).fetchone()
        return Root(row["id"], _loaded(row["path"])) if row else None

    def remove_root(self, root_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM roots WHERE id = ?", (root_id,))
            self._bump()

    def move_root(self, old: str | Path, new: str | Path) -> tuple[int, int]:
        """Re-point every root and item under ``old`` to ``new`` (a folder moved, a drive mounted elsewhere).

        Embeddings are keyed by content hash, so they stay with their items. Returns (roots, items) moved.
        """
        old = os.path.realpath(os.path.expanduser(os.fspath(old)))
        new = os.path.realpath(os.path.expanduser(os.fspath(new)))
        if old == new:
            return 0, 0
        moved_roots = moved_items = 0
        with self.transaction() as db:
            for table in ("roots", "items"):
                rows = db.execute(f"SELECT id, path FROM {table} WHERE path IS NOT NULL").fetchall()
                for row in rows:
                    path = _loaded(row["path"])
                    if path == old or path.startswith(old.rstrip(os.sep) + os.sep):
                        target = new + path[len(old) :]
                        if db.execute(f"SELECT 1 FROM {table} WHERE path = ?", (_stored(target),)).fetchone():
                            raise LibraryError(f"{target}: already in the library; remove it before moving {old} there")
                        db.execute(f"UPDATE {table} SET path = ? WHERE id = ?", (_stored(target), row["id"]))
                        if table == "roots":
                            moved_roots += 1
                        else:
                            moved_items += 1
            if moved_items:
                db.execute("UPDATE items SET missing = 0 WHERE missing = 1")  # the next scan says what is still gone
            self._bump()
        return moved_roots, moved_items

    # -- items ------------------------------------------------------------------------------

    def add_texts(self, texts: Iterable[str]) -> list[int]:
        """Texts as items of their own (a caption list, label prompts); returns their ids."""
        ids = []
        now = time.time()
        key = self.get_meta("model")
        with self.transaction() as db:
            for text in texts:
                text = display(text).strip()
                if not text:
                    continue
                content = hash_text(text)
                db.execute(  # a text added here takes over the same text imported: its vector is computed here
                    """INSERT INTO items(text, modality, hash, status, updated) VALUES (?, 'text', ?, ?, ?)
                       ON CONFLICT(text) WHERE text IS NOT NULL DO UPDATE SET hash = excluded.hash,
                           status = excluded.status, error_kind = NULL, error = NULL, updated = excluded.updated
                       WHERE substr(items.hash, 1, ?) = ?""",
                    (text, content, self._status_for(db, key, content, Modality.TEXT), now, len(IMPORTED), IMPORTED),
                )
                ids.append(db.execute("SELECT id FROM items WHERE text = ?", (text,)).fetchone()[0])
            self._bump()
        return ids

    @staticmethod
    def _status_for(db: sqlite3.Connection, key: str | None, content_hash: str, modality: Modality) -> str:
        if (
            key
            and db.execute(
                "SELECT 1 FROM embeddings WHERE hash = ? AND model = ? AND modality = ?",
                (content_hash, key, modality.value),
            ).fetchone()
        ):
            return EMBEDDED
        return PENDING

    def file_states(self, root_id: int) -> dict[str, tuple[int, float, str, str, str, str | None, bool]]:
        """path -> (size, mtime, hash, modality, status, error kind, missing) of the files under a root."""
        rows = self._db.execute(
            "SELECT path, size, mtime, hash, modality, status, error_kind, missing FROM items WHERE root_id = ?",
            (root_id,),
        )
        return {
            _loaded(r["path"]): (
                r["size"],
                r["mtime"],
                r["hash"],
                r["modality"],
                r["status"],
                r["error_kind"],
                bool(r["missing"]),
            )
            for r in rows
        }

    def upsert_files(self, root_id: int | None, files: list[tuple[str, Modality, int, float, str]]) -> None:
        """Record new or changed files (path, modality, size, mtime, hash) in one transaction."""
        now = time.time()
        key = self.get_meta("model")
        with self.transaction() as db:
            for path, modality, size, mtime, content_hash in files:
                status = self._status_for(db, key, content_hash, modality)
                db.execute(
                    """INSERT INTO items(root_id, path, modality, size, mtime, hash, status, updated)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(path) DO UPDATE SET root_id = excluded.root_id, modality = excluded.modality,
                           size = excluded.size, mtime = excluded.mtime, hash = excluded.hash, status = excluded.status,
                           error_kind = NULL, error = NULL, updated = excluded.updated, missing = 0""",
                    (root_id, _stored(path), modality.value, size, mtime, content_hash, status, now),
                )
            self._bump()

    def set_missing(self, paths: Iterable[str], missing: bool) -> None:
        """Mark files gone (offline: kept with their embeddings) or back."""
        rows = [(int(missing), _stored(p)) for p in paths]
        if not rows:
            return
        with self.transaction() as db:
            db.executemany("UPDATE items SET missing = ? WHERE path = ?", rows)
            self._bump()

    def retry(self, paths: Iterable[str]) -> None:
        """Failed files whose failure may have passed (unreadable then, readable now) become pending again."""
        rows = [(_stored(p),) for p in paths]
        if not rows:
            return
        with self.transaction() as db:
            db.executemany(
                "UPDATE items SET status = 'pending', error_kind = NULL, error = NULL WHERE path = ? AND status = 'failed'",
                rows,
            )
            self._bump()

    def remove_paths(self, paths: Iterable[str]) -> None:
        rows = [(_stored(p),) for p in paths]
        if not rows:
            return
        with self.transaction() as db:
            db.executemany("DELETE FROM items WHERE path = ?", rows)
            self._bump()

    def remove_missing(self) -> int:
        """Forget the items whose files are gone (after files were deleted on purpose); returns how many."""
        with self.transaction() as db:
            removed = db.execute("DELETE FROM items WHERE missing = 1").rowcount
            self._bump()
        return removed

    def _item(self, row: sqlite3.Row) -> Item:
        return Item(
            row["id"],
            Modality(row["modality"]),
            _loaded(row["path"]),
            row["text"],
            row["hash"],
            row["status"],
            row["error_kind"],
            row["error"],
            row["size"],
            row["mtime"],
            row["root_id"],
            bool(row["missing"]),
        )

    def items(
        self,
        modality: Modality | None = None,
        status: str | None = None,
        ids: Iterable[int] | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Item]:
        """Items by id order, filtered; ``offset``/``limit`` page through a large library without loading it all."""
        query, args = "SELECT * FROM items WHERE 1 = 1", []
        if modality is not None:
            query += " AND modality = ?"
            args.append(Modality(modality).value)
        if status is not None:
            query += " AND status = ?"
            args.append(status)
        if ids is None:
            query += " ORDER BY id"
            if limit is not None:
                query += " LIMIT ? OFFSET ?"
                args += [limit, offset]
            return [self._item(r) for r in self._db.execute(query, args)]
        ids = list(ids)
        found: list[Item] = []
        for start in range(0, len(ids), _MAX_VARIABLES):  # SQLite caps the variables of one statement
            chunk = ids[start : start + _MAX_VARIABLES]
            rows = self._db.execute(query + f" AND id IN ({','.join('?' * len(chunk))})", [*args, *chunk])
            found += [self._item(r) for r in rows]
        return sorted(found, key=lambda item: item.id)

    def items_without(self, key: str) -> list[Item]:
        """The items a model has no vector for (what re-embedding with it still has to do)."""
        rows = self._db.execute(
            """SELECT * FROM items i WHERE NOT EXISTS (SELECT 1 FROM embeddings e
               WHERE e.hash = i.hash AND e.modality = i.modality AND e.model = ?) ORDER BY i.id""",
            (key,),
        )
        return [self._item(r) for r in rows]

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM items WHERE status = ?", (status,)).fetchone()[0]

    def item(self, item_id: int) -> Item | None:
        row = self._db.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        return self._item(row) if row else None

    def item_by_path(self, path: str | Path) -> Item | None:
        path = os.path.realpath(os.fspath(path))
        row = self._db.execute("SELECT * FROM items WHERE path = ?", (_stored(path),)).fetchone()
        return self._item(row) if row else None

    def counts(self, root_id: int | None = None) -> dict[tuple[str, str], int]:
        """(modality, status) -> number of items, for the whole library or one root."""
        query = "SELECT modality, status, COUNT(*) FROM items"
        args: tuple = ()
        if root_id is not None:
            query += " WHERE root_id = ?"
            args = (root_id,)
        return {(m, s): n for m, s, n in self._db.execute(query + " GROUP BY modality, status", args)}

    def missing_counts(self) -> dict[int | None, int]:
        """root id -> number of items whose file is gone."""
        rows = self._db.execute("SELECT root_id, COUNT(*) FROM items WHERE missing = 1 GROUP BY root_id")
        return dict(rows.fetchall())

    # -- embeddings --------------------------------------------------------------------------

    def record_results(self, ref: ModelRef, outcomes: Sequence[Outcome]) -> None:
        """Store a batch's outcomes atomically: vectors appended (and fsynced) to the model's files, then
        the rows that point at them and the items' statuses committed in the same transaction."""
        now = time.time()
        with self.transaction() as db:
            key = self.register_model(ref, db)
            active = self.get_meta("model") == key
            fresh = self._append_vectors(
                db, key, [(o.item.hash, o.item.modality, o.vector, o.scale) for o in outcomes if o.vector is not None]
            )
            if not active:  # another model's set in the making (a re-embed): its failures wait for the switch
                db.executemany(
                    "INSERT OR REPLACE INTO model_failures(model, item_id, error_kind, error) VALUES (?, ?, ?, ?)",
                    [(key, o.item.id, o.error_kind, o.error) for o in outcomes if o.vector is None],
                )
                db.executemany(
                    "DELETE FROM model_failures WHERE model = ? AND item_id = ?",
                    [(key, o.item.id) for o in outcomes if o.vector is not None],
                )
            else:
                for outcome in outcomes:
                    if outcome.vector is not None:
                        db.execute(
                            "UPDATE items SET status = 'embedded', error_kind = NULL, error = NULL, updated = ? "
                            "WHERE hash = ? AND modality = ?",
                            (now, outcome.item.hash, outcome.item.modality.value),
                        )
                    else:
                        db.execute(
                            "UPDATE items SET status = 'failed', error_kind = ?, error = ?, updated = ? WHERE id = ?",
                            (outcome.error_kind, outcome.error, now, outcome.item.id),
                        )
            if fresh or active:
                self._bump()

    def _append_vectors(
        self, db: sqlite3.Connection, key: str, vectors: list[tuple[str, Modality, np.ndarray, float]]
    ) -> int:
        """Inside a write transaction: append the vectors not stored yet; returns how many were new."""
        if not vectors:
            return 0
        hashes, modalities, rows, scales = zip(*vectors, strict=True)
        matrix = np.stack([np.asarray(v, np.float32) for v in rows])
        return self._append_matrix(db, key, hashes, modalities, matrix, scales)

    def _append_matrix(
        self,
        db: sqlite3.Connection,
        key: str,
        hashes: Sequence[str],
        modalities: Sequence[Modality],
        matrix: np.ndarray,
        scales: Sequence[float],
    ) -> int:
        """``_append_vectors`` for rows of one matrix: a bulk import's batch is stored without being split."""
        store, added = self.store(key), 0
        for modality in dict.fromkeys(modalities):
            picked = {h: n for n, (h, m) in enumerate(zip(hashes, modalities, strict=True)) if m is modality}
            known = self._known_hashes(db, key, modality, list(picked))
            fresh = [(h, n) for h, n in picked.items() if h not in known]
            if not fresh:
                continue
            row = db.execute(
                "SELECT rows FROM stores WHERE model = ? AND modality = ?", (key, modality.value)
            ).fetchone()
            start = row[0] if row else 0
            chosen = np.fromiter((n for _, n in fresh), np.int64, len(fresh))
            whole = len(chosen) == len(matrix) and bool((chosen == np.arange(len(matrix))).all())
            block = np.ascontiguousarray(matrix if whole else matrix[chosen], np.float32)
            if not np.isfinite(block).all():
                raise ValueError("a vector that is not finite reached the library; nothing of this batch is stored")
            store.append(modality, start, block)
            db.executemany(
                "INSERT INTO embeddings(hash, model, modality, row, scale) VALUES (?, ?, ?, ?, ?)",
                [(h, key, modality.value, start + i, float(scales[n])) for i, (h, n) in enumerate(fresh)],
            )
            db.execute(
                "INSERT INTO stores(model, modality, rows) VALUES (?, ?, ?) "
                "ON CONFLICT(model, modality) DO UPDATE SET rows = excluded.rows",
                (key, modality.value, start + len(fresh)),
            )
            added += len(fresh)
        return added

    @staticmethod
    def _known_hashes(db: sqlite3.Connection, key: str, modality: Modality, hashes: list[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(hashes), _MAX_VARIABLES):
            chunk = hashes[start : start + _MAX_VARIABLES]
            rows = db.execute(
                f"SELECT hash FROM embeddings WHERE model = ? AND modality = ? AND hash IN ({','.join('?' * len(chunk))})",
                [key, modality.value, *chunk],
            )
            known.update(r[0] for r in rows)
        return known

    @contextmanager
    def bulk(self, ref: ModelRef) -> Iterator[BulkWriter]:
        """One write transaction for adding many files with precomputed embeddings (an import): all of it is
        committed, or none of it. The library takes ``ref`` as its model if it has none yet."""
        with self.transaction() as db:
            key = self.register_model(ref, db, rename=False)
            if self.get_meta("model") is None:
                self.set_meta("model", key)
            writer = BulkWriter(self, db, key, self.get_meta("model") == key)
            yield writer
            self._bump()

    def embedding(self, item_id: int, key: str) -> tuple[np.ndarray, float] | None:
        """An item's unit vector and scale under a model, read from the vector file."""
        row = self._db.execute(
            """SELECT e.modality, e.row, e.scale FROM items i JOIN embeddings e
               ON e.hash = i.hash AND e.modality = i.modality AND e.model = ? WHERE i.id = ?""",
            (key, item_id),
        ).fetchone()
        return self._read_vector(key, row)

    def embedding_by_hash(self, content_hash: str, modality: Modality, key: str) -> tuple[np.ndarray, float] | None:
        row = self._db.execute(
            "SELECT modality, row, scale FROM embeddings WHERE hash = ? AND modality = ? AND model = ?",
            (content_hash, Modality(modality).value, key),
        ).fetchone()
        return self._read_vector(key, row)

    def _read_vector(self, key: str, row) -> tuple[np.ndarray, float] | None:
        if row is None:
            return None
        modality = Modality(row[0])
        rows = self.store_rows(key).get(modality, 0)
        return np.array(self.store(key).view(modality, rows)[row[1]]), float(row[2])

    def embedded_rows(
        self, key: str, modality: Modality | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(item ids, modality keys, vector rows, scales) of every item embedded by a model, in id order."""
        query = """SELECT i.id, i.modality, e.row, e.scale FROM items i
                   JOIN embeddings e ON e.hash = i.hash AND e.modality = i.modality AND e.model = ?"""
        args: list = [key]
        if modality is not None:
            query += " WHERE i.modality = ?"
            args.append(Modality(modality).value)
        rows = self._db.execute(query + " ORDER BY i.id", args).fetchall()
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        modalities = np.array([r[1] for r in rows], dtype="<U8")
        vector_rows = np.fromiter((r[2] for r in rows), np.int64, len(rows))
        scales = np.fromiter((r[3] for r in rows), np.float32, len(rows))
        return ids, modalities, vector_rows, scales

    def items_at_rows(self, key: str, modality: Modality, rows: Sequence[int]) -> dict[int, list[int]]:
        """vector row -> ids of the items that have that vector (duplicates share one)."""
        found: dict[int, list[int]] = {}
        rows = [int(r) for r in rows]
        for start in range(0, len(rows), _MAX_VARIABLES):
            chunk = rows[start : start + _MAX_VARIABLES]
            result = self._db.execute(
                f"""SELECT e.row, i.id FROM embeddings e JOIN items i ON i.hash = e.hash AND i.modality = e.modality
                    WHERE e.model = ? AND e.modality = ? AND e.row IN ({",".join("?" * len(chunk))})
                    ORDER BY i.id""",
                [key, Modality(modality).value, *chunk],
            )
            for row, item_id in result:
                found.setdefault(row, []).append(item_id)
        return found


class BulkWriter:
    """Adds batches of files with their vectors inside ``Library.bulk``'s transaction."""

    def __init__(self, library: Library, db: sqlite3.Connection, key: str, active: bool):
        self._library, self._db, self.key, self._active = library, db, key, active
        self.changed = 0  # items inserted or updated

    def add(
        self,
        records: Sequence[Record],
        vectors: np.ndarray,
        scales: np.ndarray,
        failures: Sequence[tuple[Record, str, str]] = (),
    ) -> None:
        """Records with their unit vectors and scales, and records that failed elsewhere with (error kind,
        error). Items already in the library keep their ids; an unchanged one is left as it is, so adding
        the same batch twice changes nothing. A record updates only an item of the same identity or an
        imported one (an import never overrides a file this library hashed), and a failure never overrides
        an embedded item."""
        now = time.time()
        self._library._append_matrix(
            self._db, self.key, [r.hash for r in records], [r.modality for r in records], vectors, scales
        )
        ok, bad = (EMBEDDED, FAILED) if self._active else (PENDING, PENDING)
        rows = [(r, ok, None, None) for r in records] + [(r, bad, kind, error) for r, kind, error in failures]
        values = [
            (
                r.root_id,
                _stored(r.path) if r.path else None,
                r.text,
                r.modality.value,
                r.size,
                r.mtime,
                r.hash,
                status,
                kind,
                error,
                now,
            )
            for r, status, kind, error in rows
        ]
        before = self._db.total_changes
        for target, chosen in (
            ("path", [v for v in values if v[1] is not None]),
            ("text", [v for v in values if v[1] is None]),
        ):
            self._db.executemany(
                f"""INSERT INTO items(root_id, path, text, modality, size, mtime, hash, status, error_kind, error, updated)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT({target}) {"WHERE text IS NOT NULL" if target == "text" else ""} DO UPDATE SET
                        root_id = COALESCE(excluded.root_id, items.root_id), modality = excluded.modality,
                        size = excluded.size, mtime = excluded.mtime, hash = excluded.hash, status = excluded.status,
                        error_kind = excluded.error_kind, error = excluded.error, updated = excluded.updated
                    WHERE (items.hash != excluded.hash OR items.status != excluded.status)
                      AND (items.hash = excluded.hash OR substr(items.hash, 1, {len(IMPORTED)}) = '{IMPORTED}')
                      AND NOT (items.status = 'embedded' AND excluded.status = 'failed')""",
                chosen,
            )
        self.changed += self._db.total_changes - before


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
