"""A library's models and embeddings: models recorded by fingerprint, vectors appended to the model's files with
rows that point at them, label vectors, and bulk writes for imports."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from engine.library.database import stored
from engine.library.items import Items
from engine.library.rows import EMBEDDED, FAILED, PENDING, Filter, Outcome, Record
from engine.library.schema import MAX_VARIABLES
from engine.modality import Modality
from engine.models.identity import ModelRef
from engine.preprocess.windows import SEGMENTED


class Embeddings(Items):
    writer_type: type[BulkWriter]  # what ``bulk`` yields (set below, and by the library's moments)

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

    def set_model(self, ref: ModelRef, first: bool = False) -> ModelRef:
        """Make ``ref`` the active model: items it embedded become embedded, those it failed on failed
        (with its reasons), the rest pending. ``first``: only if the library has no model yet, checked in the
        same transaction (another process may have given it one meanwhile). Returns the library's model."""
        with self.transaction() as db:
            if first and self.get_meta("model"):
                return self.model
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
        return self.model

    def store_rows(self, key: str) -> dict[Modality, int]:
        """Committed vector rows per modality for a model: the search index's O(1) staleness check."""
        rows = self._db.execute("SELECT modality, rows FROM stores WHERE model = ?", (key,))
        return {Modality(m): n for m, n in rows}

    def label_vectors(
        self, key: str, labels: Sequence[str], templates: Sequence[str]
    ) -> dict[str, tuple[np.ndarray, float]]:
        """Stored text embeddings of labels (prompts averaged) for a model: zero-shot without the model."""
        signature = json.dumps(list(templates))
        found = {}
        for start in range(0, len(labels), MAX_VARIABLES):
            chunk = list(labels[start : start + MAX_VARIABLES])
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
        for start in range(0, len(hashes), MAX_VARIABLES):
            chunk = hashes[start : start + MAX_VARIABLES]
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
        with self.importing(), self.transaction() as db:
            key = self.register_model(ref, db, rename=False)
            if self.get_meta("model") is None:
                self.set_meta("model", key)
            writer = self.writer_type(self, db, key, self.get_meta("model") == key)
            yield writer
            self._bump()

    def embedding(self, item_id: int, key: str) -> tuple[np.ndarray, float] | None:
        """An item's unit vector and scale under a model, read from the vector file."""
        row = self._db.execute(
            """SELECT e.modality, e.row, e.scale FROM items i CROSS JOIN embeddings e
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

    def filtered_rows(self, key: str, modality: Modality, chosen: Filter) -> np.ndarray:
        """The vector rows (sorted, unique: duplicates share one) of a modality's items that ``chosen`` lets
        through, embedded by a model. The items are found first (by the path or date index), then their rows."""
        where, args = self.conditions(chosen, "i.")
        found = self._db.execute(
            f"""SELECT e.row FROM items i CROSS JOIN embeddings e
                ON e.hash = i.hash AND e.modality = i.modality AND e.model = ?
                WHERE i.modality = ? AND {where}""",
            [key, Modality(modality).value, *args],
        )
        return np.unique(np.fromiter((row[0] for row in found), np.int64))

    def items_at_rows(self, key: str, modality: Modality, rows: Sequence[int]) -> dict[int, list[int]]:
        """vector row -> ids of the items that have that vector (duplicates share one)."""
        found: dict[int, list[int]] = {}
        rows = [int(r) for r in rows]
        for start in range(0, len(rows), MAX_VARIABLES):
            chunk = rows[start : start + MAX_VARIABLES]
            result = self._db.execute(
                f"""SELECT e.row, i.id FROM embeddings e CROSS JOIN items i ON i.hash = e.hash AND i.modality = e.modality
                    WHERE e.model = ? AND e.modality = ? AND e.row IN ({",".join("?" * len(chunk))})
                    ORDER BY i.id""",
                [key, Modality(modality).value, *chunk],
            )
            for row, item_id in result:
                found.setdefault(row, []).append(item_id)
        return found


class BulkWriter:
    """Adds batches of files with their vectors inside ``Library.bulk``'s transaction."""

    def __init__(self, library: Embeddings, db: sqlite3.Connection, key: str, active: bool):
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
                stored(r.path) if r.path else None,
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
        held = [  # contents this batch may take from their last item: their windows go with them
            content
            for r in records
            if r.path and r.modality in SEGMENTED
            for content in self._library._contents(self._db, "path = ? AND hash != ?", [stored(r.path), r.hash])
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
                      AND (items.hash = excluded.hash OR items.hash LIKE 'import:%')
                      AND NOT (items.status = 'embedded' AND excluded.status = 'failed')""",
                chosen,
            )
        self.changed += self._db.total_changes - before
        self._library._drop_unheld_segments(self._db, held)


Embeddings.writer_type = BulkWriter
