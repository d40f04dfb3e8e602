"""A library's roots and items: folders added, files and texts recorded, their status, offline flags and moves."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from engine.library.database import Database, loaded, stored
from engine.library.files import display, hash_text
from engine.library.rows import EMBEDDED, PENDING, SORTS, FileState, Item, LibraryError, Listing, Root, Tally
from engine.library.schema import MAX_VARIABLES
from engine.modality import Modality


class Items(Database):
    # -- roots ------------------------------------------------------------------------------

    def add_root(self, path: str | Path) -> Root:
        path = os.path.realpath(os.path.expanduser(os.fspath(path)))
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO roots(path, added) VALUES (?, ?)", (stored(path), time.time()))
            row = db.execute("SELECT id, path FROM roots WHERE path = ?", (stored(path),)).fetchone()
        return Root(row["id"], loaded(row["path"]))

    def roots(self) -> list[Root]:
        return [Root(r["id"], loaded(r["path"])) for r in self._db.execute("SELECT id, path FROM roots ORDER BY path")]

    def root(self, root_id: int) -> Root | None:
        row = self._db.execute("SELECT id, path FROM roots WHERE id = ?", (root_id,)).fetchone()
        return Root(row["id"], loaded(row["path"])) if row else None

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
                    path = loaded(row["path"])
                    if path == old or path.startswith(old.rstrip(os.sep) + os.sep):
                        target = new + path[len(old) :]
                        if db.execute(f"SELECT 1 FROM {table} WHERE path = ?", (stored(target),)).fetchone():
                            raise LibraryError(f"{target}: already in the library; remove it before moving {old} there")
                        db.execute(f"UPDATE {table} SET path = ? WHERE id = ?", (stored(target), row["id"]))
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
                       WHERE items.hash LIKE 'import:%'""",
                    (text, content, self._status_for(db, key, content, Modality.TEXT), now),
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

    def file_states(self, root_id: int) -> dict[str, FileState]:
        """path -> what the library recorded of each file under a root."""
        rows = self._db.execute(
            "SELECT path, size, mtime, hash, modality, status, error_kind, missing FROM items WHERE root_id = ?",
            (root_id,),
        )
        return {
            loaded(r["path"]): FileState(
                r["size"], r["mtime"], r["hash"], r["modality"], r["status"], r["error_kind"], bool(r["missing"])
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
                    (root_id, stored(path), modality.value, size, mtime, content_hash, status, now),
                )
            self._bump()

    def set_missing(self, paths: Iterable[str], missing: bool) -> None:
        """Mark files gone (offline: kept with their embeddings) or back."""
        rows = [(int(missing), stored(p)) for p in paths]
        if not rows:
            return
        with self.transaction() as db:
            db.executemany("UPDATE items SET missing = ? WHERE path = ?", rows)
            self._bump()

    def retry(self, paths: Iterable[str]) -> None:
        """Failed files whose failure may have passed (unreadable then, readable now) become pending again."""
        rows = [(stored(p),) for p in paths]
        if not rows:
            return
        with self.transaction() as db:
            db.executemany(
                "UPDATE items SET status = 'pending', error_kind = NULL, error = NULL WHERE path = ? AND status = 'failed'",
                rows,
            )
            self._bump()

    def remove_paths(self, paths: Iterable[str]) -> None:
        rows = [(stored(p),) for p in paths]
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
            loaded(row["path"]),
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
        for start in range(0, len(ids), MAX_VARIABLES):  # SQLite caps the variables of one statement
            chunk = ids[start : start + MAX_VARIABLES]
            rows = self._db.execute(query + f" AND id IN ({','.join('?' * len(chunk))})", [*args, *chunk])
            found += [self._item(r) for r in rows]
        return sorted(found, key=lambda item: item.id)

    @staticmethod
    def _where(listing: Listing, offline_roots: Iterable[int]) -> tuple[str, list]:
        """The listing as a WHERE clause and its arguments (offline: gone, or in a folder not reachable now)."""
        clauses, args = ["1 = 1"], []
        if listing.modality is not None:
            clauses.append("modality = ?")
            args.append(Modality(listing.modality).value)
        if listing.folder is not None:
            clauses.append("root_id = ?")
            args.append(listing.folder)
        if listing.outside:
            clauses.append("root_id IS NULL")
        if listing.status is not None:
            clauses.append("status = ?")
            args.append(listing.status)
        if listing.offline:
            roots = [int(r) for r in offline_roots]
            clauses.append(f"path IS NOT NULL AND (missing = 1 OR root_id IN ({','.join('?' * len(roots))}))")
            args += roots
        return " AND ".join(clauses), args

    def listing_count(self, listing: Listing, offline_roots: Iterable[int] = ()) -> int:
        where, args = self._where(listing, offline_roots)
        return self._db.execute(f"SELECT COUNT(*) FROM items WHERE {where}", args).fetchone()[0]

    def listing_ids(
        self,
        listing: Listing,
        sort: str = "path",
        descending: bool = False,
        *,
        offset: int = 0,
        limit: int = 200,
        offline_roots: Iterable[int] = (),
    ) -> list[int]:
        """One page of the listing's ids in ``sort`` order (then by id), read from a covering index (see
        ``schema.BROWSE_INDEXES``): a page deep in a million is found without sorting or reading rows."""
        if sort not in SORTS:
            raise LibraryError(f"cannot sort by {sort!r}: choose one of {', '.join(SORTS)}")
        where, args = self._where(listing, offline_roots)
        way = "DESC" if descending else "ASC"
        rows = self._db.execute(
            f"SELECT id FROM items WHERE {where} ORDER BY {SORTS[sort]} {way}, id {way} LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [r[0] for r in rows]

    def ordered(self, ids: Iterable[int], sort: str = "path", descending: bool = False) -> list[int]:
        """An explicit set of ids (a map selection) in ``sort`` order, then by id; ids not in the library drop."""
        if sort not in SORTS:
            raise LibraryError(f"cannot sort by {sort!r}: choose one of {', '.join(SORTS)}")
        ids, keyed = list(ids), []
        for start in range(0, len(ids), MAX_VARIABLES):
            chunk = ids[start : start + MAX_VARIABLES]
            rows = self._db.execute(
                f"SELECT id, {SORTS[sort]} FROM items WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
            keyed += [(_sort_key(value), item_id) for item_id, value in rows]
        keyed.sort(reverse=descending)
        return [item_id for _, item_id in keyed]

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
        row = self._db.execute("SELECT * FROM items WHERE path = ?", (stored(path),)).fetchone()
        return self._item(row) if row else None

    def tally(self) -> list[Tally]:
        """Items counted by root, modality and status, with how many of them are offline, in one read."""
        rows = self._db.execute(
            "SELECT root_id, modality, status, COUNT(*), SUM(missing) FROM items GROUP BY root_id, modality, status"
        )
        return [Tally(root_id, modality, status, count, gone or 0) for root_id, modality, status, count, gone in rows]


def _sort_key(value) -> tuple:
    """SQLite's order in Python: NULL first, numbers, then text, then bytes (a path that is not UTF-8)."""
    if value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    return (2, value) if isinstance(value, str) else (3, value)
