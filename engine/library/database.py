"""The library's connection: opening (create, upgrade, read-only), transactions, meta values and settings."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Self

from engine.library.lock import EXCLUSIVE, IMPORTING, SHARED, held
from engine.library.migrate import migrate_schema_1, migrate_schema_2, migrate_schema_3
from engine.library.rows import BUSY, LibraryBusy, LibraryError
from engine.library.schema import DATABASE, SCHEMA_VERSION, all_statements, indexes
from engine.library.validate import check, check_objects
from engine.modality import Modality
from engine.vectors import VectorStore


def stored(path: str) -> str | bytes:
    """A path as the database keeps it: text, or the raw bytes when they are not UTF-8."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path)


def loaded(value: str | bytes | None) -> str | None:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _files(database: Path) -> tuple[Path, Path, Path]:
    """The database and the WAL and shared-memory files SQLite keeps beside it."""
    return database, database.with_name(f"{database.name}-wal"), database.with_name(f"{database.name}-shm")


class Database:
    """The connection to one library's database, opened, created or upgraded in place; the model's vector files."""

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
        self.read_only |= any(p.exists() and not os.access(p, os.W_OK) for p in _files(database))
        if self.read_only and not database.exists():
            raise LibraryError(f"{self.folder}: cannot create a library here (the folder is read-only)")
        self._stores: dict[str, VectorStore] = {}
        self._timeout = timeout
        self._importing = False
        self.waiting: Callable[[], None] = lambda: None  # called while a write waits for another process's import
        self._snapshot: Path | None = None  # a private copy read in place of read-only files SQLite cannot read
        self._db = self._connect(database, timeout)
        try:
            check_objects(self._db, database)
            if self.read_only:
                self._check_version(self.get_meta("schema_version"))
                check(self._db, database)
            else:
                self._prepare(database)
        except sqlite3.DatabaseError as error:
            self.close()
            if str(error) in BUSY:
                raise LibraryBusy(self.folder) from None
            raise LibraryError(f"{database}: the library database is damaged or unusable ({error})") from None
        except BaseException:
            self.close()
            raise

    def _connect(self, database: Path, timeout: float) -> sqlite3.Connection:
        try:
            if self.read_only:
                db = self._connect_read_only(database, timeout)
            else:
                db = sqlite3.connect(database, timeout=timeout, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA trusted_schema=OFF")  # no function of a hand-made schema runs on our reads
            db.row_factory = sqlite3.Row
            return db
        except sqlite3.DatabaseError as error:
            raise LibraryError(f"{database}: the library database is damaged or unusable ({error})") from None

    def _connect_read_only(self, database: Path, timeout: float) -> sqlite3.Connection:
        """Read-only, with every committed transaction, the ones still in the WAL included. SQLite reads a WAL on
        read-only media when its shared-memory file is there and sound; when it is not (a writer killed on a
        drive now read-only, its -shm lost), the database and its WAL are copied aside and read from the copy.
        Without a WAL, the file alone is the whole state (``immutable``: no -shm needed)."""
        options = {"uri": True, "timeout": timeout, "isolation_level": None, "check_same_thread": False}
        try:
            db = sqlite3.connect(f"{database.as_uri()}?mode=ro", **options)
            try:
                db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                return db
            except sqlite3.DatabaseError:
                db.close()
                raise
        except sqlite3.OperationalError:
            pass
        wal = _files(database)[1]
        if not wal.exists() or wal.stat().st_size == 0:
            return sqlite3.connect(f"{database.as_uri()}?mode=ro&immutable=1", **options)
        self._snapshot = Path(tempfile.mkdtemp(prefix="bindscope-read-only-"))
        try:
            for source in _files(database)[:2]:
                shutil.copyfile(source, self._snapshot / source.name)
        except OSError as error:
            shutil.rmtree(self._snapshot, ignore_errors=True)
            raise LibraryError(f"{database}: cannot read its WAL on read-only media ({error.strerror})") from None
        db = sqlite3.connect(
            self._snapshot / database.name, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA query_only = ON")
        return db

    def _check_version(self, version: str | None) -> None:
        if version is not None and int(version) > SCHEMA_VERSION:
            raise LibraryError(f"{self.folder}: made by a newer BindScope (schema {version}); update BindScope")
        if self.read_only and version is not None and int(version) < SCHEMA_VERSION:
            raise LibraryError(
                f"{self.folder}: made by an older BindScope (schema {version}); "
                "it must be upgraded in place, which a read-only folder does not allow"
            )

    def _prepare(self, database: Path) -> None:
        """Create the schema or upgrade an older one in place (one transaction); then cut torn vector tails.

        A library at the current schema is opened without waiting for the write lock, so opening never
        stalls behind another process's long write (an import holds one transaction per file)."""
        version = self._version()
        self._check_version(version)
        if version is None or int(version) < SCHEMA_VERSION:
            with self.transaction() as db:
                version = self._version()  # another process may have done it meanwhile
                self._check_version(version)
                if version is not None and int(version) < 2:
                    migrate_schema_1(self, db)
                if version is not None and int(version) < 3:
                    migrate_schema_2(db)
                if version is not None and int(version) == 3:
                    migrate_schema_3(self, db)
                for statement in all_statements():  # executescript would commit mid-transaction
                    db.execute(statement)
                self.set_meta("schema_version", str(SCHEMA_VERSION))
            if version is not None and int(version) < 2:
                self._db.execute("VACUUM")  # the vectors left the database: give their pages back to the disk
        check(self._db, database)  # before the cut, which trusts the committed counts
        self._cut_torn_tails()
        self._add_missing_indexes()

    def _version(self) -> str | None:
        if not self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
            return None
        return self.get_meta("schema_version")

    def _cut_torn_tails(self) -> None:
        """Vectors written by a process killed before its commit lie past the committed counts: cut them, if no
        writer holds the lock now (a writer overwrites them anyway at its next append)."""
        try:
            self._db.execute("PRAGMA busy_timeout = 0")
            with self.transaction(beside_import=False) as db:
                for key, modality, rows in db.execute("SELECT model, modality, rows FROM stores").fetchall():
                    self.store(key).cut(Modality(modality), rows)
                for key, modality, rows in db.execute("SELECT model, modality, rows FROM segment_stores").fetchall():
                    self.segment_store(key).cut(Modality(modality), rows)
        except sqlite3.OperationalError:  # locked by a writer
            pass
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")

    def _add_missing_indexes(self) -> None:
        """Create the schema's indexes a library made before them lacks (the date index that sorts and filters by
        date): once, when a writer does not hold the lock; a read-only library works without them, more slowly."""
        if self.read_only:
            return
        present = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        missing = [statement for name, statement in indexes().items() if name not in present]
        if not missing:
            return
        try:
            self._db.execute("PRAGMA busy_timeout = 0")
            with self.transaction() as db:
                for statement in missing:
                    db.execute(statement)
        except sqlite3.OperationalError:  # locked by a writer: the next opening adds them
            pass
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")

    def store(self, key: str) -> VectorStore:
        """The vector files of the model with this key."""
        if key not in self._stores:
            row = self._db.execute("SELECT dim FROM models WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise LibraryError(f"{self.folder}: no model {key} is recorded in this library")
            self._stores[key] = VectorStore(self.folder, key, int(row[0]))
        return self._stores[key]

    def segment_store(self, key: str) -> VectorStore:
        """The vector files of a model's segments (moments), beside its items' files."""
        name = f"{key}.segments"
        if name not in self._stores:
            self._stores[name] = VectorStore(self.folder, name, self.store(key).dim)
        return self._stores[name]

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()
        if self._snapshot is not None:
            shutil.rmtree(self._snapshot, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _require_writable(self) -> None:
        if self.read_only:
            raise LibraryError(f"{self.folder}: the library is read-only here; it can be searched but not changed")

    @contextmanager
    def transaction(self, beside_import: bool = True) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time, all or nothing. While another process imports, it
        waits for the import however long it takes (calling ``waiting``), unless ``beside_import`` is False."""
        self._require_writable()
        shared = beside_import and not self._importing
        with held(self.folder / IMPORTING, SHARED, self.waiting) if shared else nullcontext():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def importing(self) -> Iterator[None]:
        """Inside, this connection holds the import lock: an import's transaction may last minutes, and a writer
        that comes meanwhile waits for it, saying so, instead of SQLite's timeout reporting the library locked."""
        with held(self.folder / IMPORTING, EXCLUSIVE, self.waiting):
            self._importing = True
            try:
                yield
            finally:
                self._importing = False

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

    # -- settings kept with the library ----------------------------------------------------

    @property
    def labels(self) -> list[str]:
        """The zero-shot label list saved with the library."""
        try:
            labels = json.loads(self.get_meta("labels", "[]"))
        except ValueError:
            return []
        return [label for label in labels if isinstance(label, str)] if isinstance(labels, list) else []

    @property
    def moments(self) -> bool:
        """Whether indexing cuts long recordings into searchable windows (on unless turned off for this library)."""
        return self.get_meta("moments", "on") != "off"

    def set_moments(self, on: bool) -> None:
        with self.transaction():
            self.set_meta("moments", "on" if on else "off")

    @property
    def saved_queries(self) -> dict[str, dict]:
        """The named queries saved with the library: name -> the app's record of it (terms, weights, filters).
        The engine keeps the records as they were given; an unreadable value reads as none saved."""
        try:
            saved = json.loads(self.get_meta("saved_queries", "{}"))
        except ValueError:
            return {}
        if not isinstance(saved, dict):
            return {}
        return {name: record for name, record in saved.items() if isinstance(record, dict)}

    def save_query(self, name: str, record: dict) -> dict[str, dict]:
        """Keep ``record`` under ``name`` (replacing one of that name); returns every saved query."""
        name = name.strip()
        if not name:
            raise ValueError("a saved query needs a name")
        with self.transaction():
            saved = {**self.saved_queries, name: record}
            self.set_meta("saved_queries", json.dumps(saved))
        return saved

    def forget_query(self, name: str) -> dict[str, dict]:
        """Remove the saved query ``name``; returns the ones left."""
        with self.transaction():
            saved = {key: record for key, record in self.saved_queries.items() if key != name}
            self.set_meta("saved_queries", json.dumps(saved))
        return saved

    def rename_query(self, old: str, new: str) -> dict[str, dict]:
        """Keep the saved query ``old`` under the name ``new`` instead; returns every saved query."""
        new = new.strip()
        if not new:
            raise ValueError("a saved query needs a name")
        with self.transaction():
            saved = self.saved_queries
            if old not in saved:
                raise ValueError(f"no query named {old!r} is saved with this library")
            if new != old and new in saved:
                raise ValueError(f"a query named {new!r} is already saved; delete it first")
            saved = {new if key == old else key: record for key, record in saved.items()}
            self.set_meta("saved_queries", json.dumps(saved))
        return saved

    def set_labels(self, labels: Iterable[str]) -> list[str]:
        cleaned = list(dict.fromkeys(label.strip() for label in labels if label.strip()))
        with self.transaction():
            self.set_meta("labels", json.dumps(cleaned))
        return cleaned
