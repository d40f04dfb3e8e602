"""A library's roots and items: folders added, files and texts recorded, their status, offline flags and moves."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from engine.library.database import Database, loaded, stored
from engine.library.files import display, folder_state, hash_text, under
from engine.library.rows import EMBEDDED, PENDING, FileState, Filter, Item, LibraryError, Listing, Root, Tally
from engine.library.schema import MAX_VARIABLES
from engine.modality import Modality
from engine.preprocess.windows import SEGMENTED

ORDERS = {"id": "id", "path": "path", "date": "mtime"}  # how a listing can be sorted (then by id), by its column


def conditions(chosen: Filter, table: str = "", raw: bool = False) -> tuple[str, list]:
    """``chosen`` as SQL conditions on the items table, and their arguments; ``table`` prefixes each column (an
    alias and a dot, or '+', which leaves a column's value as it is but keeps SQLite from using its index). A folder
    is a range of the path index: ``folder/`` up to ``folder0`` ('0' follows '/').

    A path that is not UTF-8 is stored as its bytes (a BLOB, which SQLite sorts after every text), so a folder is
    also its range of bytes: the only one when the folder's own name is not UTF-8, and beside the text range when
    ``raw`` says the library holds such paths (an OR, which costs the path index its use: only those libraries pay).
    SQLite's GLOB matches no BLOB, so a pattern is matched against such a path read as text (``CAST``, byte for
    byte), the pattern too when it is not UTF-8 itself; the same ``raw`` rule decides when the text match needs it."""
    sql, args = ["1 = 1"], []
    if chosen.under:
        folder = chosen.under.rstrip("/")
        low, high = stored(folder + "/"), stored(folder + "0")
        ranges = [(low, high)] if isinstance(low, str) else []
        if raw or not ranges:
            ranges.append((os.fsencode(folder + "/"), os.fsencode(folder + "0")))
        sql.append(" OR ".join(f"({table}path >= ? AND {table}path < ?)" for _ in ranges).join("()"))
        args += [bound for pair in ranges for bound in pair]
    if chosen.glob:
        pattern = chosen.glob if chosen.glob.startswith(("/", "*")) else "*/" + chosen.glob
        kept = stored(pattern)
        if isinstance(kept, bytes):
            sql.append(f"CAST({table}path AS TEXT) GLOB CAST(? AS TEXT)")
        elif raw:
            sql.append(f"({table}path GLOB ? OR CAST({table}path AS TEXT) GLOB ?)")
            args.append(kept)
        else:
            sql.append(f"{table}path GLOB ?")
        args.append(kept)
    if chosen.since is not None or chosen.until is not None:
        sql.append(f"{table}path IS NOT NULL")
    if chosen.since is not None:
        sql.append(f"{table}mtime >= ?")
        args.append(chosen.since)
    if chosen.until is not None:
        sql.append(f"{table}mtime < ?")
        args.append(chosen.until)
    if chosen.modalities:
        sql.append(f"{table}modality IN ({','.join('?' * len(chosen.modalities))})")
        args += [Modality(m).value for m in chosen.modalities]
    return " AND ".join(sql), args


class Items(Database):
    _raw_paths: tuple[int, bool] = (-1, False)  # (generation, whether a path was stored as bytes then)

    def conditions(self, chosen: Filter, table: str = "") -> tuple[str, list]:
        """``conditions`` for this library: with the bytes range of a folder only when it holds such paths."""
        return conditions(chosen, table, bool(chosen.under or chosen.glob) and self.raw_paths())

    def raw_paths(self) -> bool:
        """Whether any item's path is stored as bytes (not UTF-8): one step of the path index, once a generation."""
        generation = self.generation
        if self._raw_paths[0] != generation:
            found = self._db.execute("SELECT 1 FROM items WHERE path >= X'' LIMIT 1").fetchone() is not None
            self._raw_paths = (generation, found)
        return self._raw_paths[1]

    # -- roots ------------------------------------------------------------------------------

    def add_root(self, path: str | Path) -> Root:
        """A folder to index. Roots may nest: each file belongs to the innermost root above it (a scan of a root
        leaves the roots inside it out), so a file is one item whichever roots cover it."""
        path = os.path.realpath(os.path.expanduser(os.fspath(path)))
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO roots(path, added) VALUES (?, ?)", (stored(path), time.time()))
            row = db.execute("SELECT id, path FROM roots WHERE path = ?", (stored(path),)).fetchone()
            self._take_items(db, row["id"], path)
        return self._root(row)

    def _take_items(self, db: sqlite3.Connection, root_id: int, path: str) -> None:
        """Inside a write transaction: the items under ``path`` that a root around it holds now belong to the
        root at ``path`` (those of a root inside it stay there), keeping their hashes and embeddings."""
        if not any(r.id != root_id and under(path, [r.path]) for r in self.roots()):
            return
        rows = db.execute(
            "SELECT i.id, i.path, r.path AS root FROM items i JOIN roots r ON r.id = i.root_id WHERE i.root_id != ?",
            (root_id,),
        ).fetchall()
        taken = [
            (root_id, r["id"])
            for r in rows
            if under(loaded(r["path"]), [path]) and not under(loaded(r["root"]), [path])
        ]
        if taken:
            db.executemany("UPDATE items SET root_id = ? WHERE id = ?", taken)
            self._bump()

    def _root(self, row: sqlite3.Row) -> Root:
        path = loaded(row["path"])
        return Root(row["id"], path, path in self.mounts())

    def roots(self) -> list[Root]:
        return [self._root(r) for r in self._db.execute("SELECT id, path FROM roots ORDER BY path")]

    def root(self, root_id: int) -> Root | None:
        row = self._db.execute("SELECT id, path FROM roots WHERE id = ?", (root_id,)).fetchone()
        return self._root(row) if row else None

    # -- mount points: an unmounted drive leaves an empty folder, which must not read as "its files are gone" ----

    def mounts(self) -> list[str]:
        """The folders (roots or inside them) that were mount points when last scanned."""
        try:
            recorded = json.loads(self.get_meta("mounts", "[]"))
        except ValueError:
            return []
        return [path for path in recorded if isinstance(path, str)] if isinstance(recorded, list) else []

    def record_mounts(self, root: str, found: Iterable[str]) -> None:
        """The mount points a scan of ``root`` found; those recorded under it that are offline now are kept."""
        kept = [m for m in self.mounts() if not under(m, [root]) or folder_state(m, was_mount=True) != "online"]
        mounts = sorted(set(kept) | set(found))
        if mounts != self.mounts():
            with self.transaction():
                self.set_meta("mounts", json.dumps(mounts))

    def offline_folders(self) -> list[str]:
        """Roots that cannot be read now and recorded mount points that are not mounted now: their files are
        offline, never gone."""
        offline = [m for m in self.mounts() if folder_state(m, was_mount=True) != "online"]
        return offline + [root.path for root in self.roots() if root.state != "online"]

    def remove_root(self, root_id: int) -> None:
        with self.transaction() as db:
            held = self._contents(db, "root_id = ?", [root_id])
            db.execute("DELETE FROM roots WHERE id = ?", (root_id,))
            self._drop_unheld_segments(db, held)
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
            for root in self.roots():
                if under(root.path, [new]):
                    self._take_items(db, root.id, root.path)
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
            held = []
            for path, modality, size, mtime, content_hash in files:
                held += self._contents(db, "path = ? AND hash != ?", [stored(path), content_hash])
                status = self._status_for(db, key, content_hash, modality)
                db.execute(
                    """INSERT INTO items(root_id, path, modality, size, mtime, hash, status, updated)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(path) DO UPDATE SET root_id = excluded.root_id, modality = excluded.modality,
                           size = excluded.size, mtime = excluded.mtime, hash = excluded.hash, status = excluded.status,
                           error_kind = NULL, error = NULL, updated = excluded.updated, missing = 0""",
                    (root_id, stored(path), modality.value, size, mtime, content_hash, status, now),
                )
            self._drop_unheld_segments(db, held)
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
            held = [c for row in rows for c in self._contents(db, "path = ?", list(row))]
            db.executemany("DELETE FROM items WHERE path = ?", rows)
            self._drop_unheld_segments(db, held)
            self._bump()

    def remove_missing(self) -> int:
        """Forget the items whose files are gone (after files were deleted on purpose), except those on a drive
        that is offline now; returns how many."""
        offline = self.offline_folders()
        with self.transaction() as db:
            rows = db.execute("SELECT id, path, hash, modality FROM items WHERE missing = 1").fetchall()
            gone = [r for r in rows if not under(loaded(r["path"]), offline)]
            db.executemany("DELETE FROM items WHERE id = ?", [(r["id"],) for r in gone])
            segmented = {m.value for m in SEGMENTED}
            self._drop_unheld_segments(db, [(r["hash"], r["modality"]) for r in gone if r["modality"] in segmented])
            self._bump()
        return len(gone)

    @staticmethod
    def _contents(db: sqlite3.Connection, where: str, args: list) -> list[tuple[str, str]]:
        """(hash, modality) of the items matching ``where`` that may hold segments (time-axis modalities)."""
        return db.execute(
            f"SELECT DISTINCT hash, modality FROM items WHERE ({where}) AND modality IN ({','.join('?' * len(SEGMENTED))})",
            [*args, *(m.value for m in SEGMENTED)],
        ).fetchall()

    @staticmethod
    def _drop_unheld_segments(db: sqlite3.Connection, contents: list[tuple[str, str]]) -> None:
        """Inside the transaction that removed or changed items: forget the segments (and the record that they were
        made) of the contents among ``contents`` that no item holds any more. Their vector rows stay in the file,
        owned by nothing, and searches skip them."""
        unheld = [
            (h, m)
            for h, m in dict.fromkeys(map(tuple, contents))
            if not db.execute("SELECT 1 FROM items WHERE hash = ? AND modality = ?", (h, m)).fetchone()
        ]
        for table in ("segments", "segmented"):
            db.executemany(f"DELETE FROM {table} WHERE hash = ? AND modality = ?", unheld)

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
        by_id = "+" if ids is not None else ""  # '+': given ids, look them up rather than walk a modality's index
        if modality is not None:
            query += f" AND {by_id}modality = ?"
            args.append(Modality(modality).value)
        if status is not None:
            query += f" AND {by_id}status = ?"
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

    def _where(self, chosen: Filter, within: Listing | None, offline_roots: Iterable[int]) -> tuple[str, list]:
        """What a filter lets through ``within`` a listing, as a WHERE clause and its arguments (offline: gone, or
        in a folder not reachable now)."""
        where, args = self.conditions(chosen)
        clauses, within = [where], within or Listing()
        if within.modality is not None:
            clauses.append("modality = ?")
            args.append(Modality(within.modality).value)
        if within.folder is not None:
            clauses.append("root_id = ?")
            args.append(within.folder)
        if within.outside:
            clauses.append("root_id IS NULL")
        if within.status is not None:
            clauses.append("status = ?")
            args.append(within.status)
        if within.offline:
            roots = [int(r) for r in offline_roots]
            clauses.append(f"path IS NOT NULL AND (missing = 1 OR root_id IN ({','.join('?' * len(roots))}))")
            args += roots
        return " AND ".join(clauses), args

    def matching(
        self,
        chosen: Filter,
        order: str = "path",
        offset: int = 0,
        limit: int = 100,
        *,
        within: Listing | None = None,
        descending: bool = False,
        offline_roots: Iterable[int] = (),
    ) -> list[Item]:
        """One page of the items ``chosen`` lets through ``within`` a listing, sorted by ``order`` (see ``ORDERS``)
        then by id: a browse view pages over a million items without loading them. The page's ids are read first,
        from a covering index (``schema.BROWSE_INDEXES``), so the rows skipped to reach offset 900,000 are never
        read; then its items."""
        if order not in ORDERS:
            raise LibraryError(f"cannot sort by {order!r}: choose one of {', '.join(ORDERS)}")
        where, args = self._where(chosen, within, offline_roots)
        way = "DESC" if descending else "ASC"
        by = f"{ORDERS[order]} {way}, id {way}" if order != "id" else f"id {way}"
        ids = [
            row[0]
            for row in self._db.execute(
                f"SELECT id FROM items WHERE {where} ORDER BY {by} LIMIT ? OFFSET ?", [*args, limit, offset]
            )
        ]
        found = {item.id: item for item in self.items(ids=ids)}
        return [found[i] for i in ids if i in found]

    def count_matching(self, chosen: Filter, within: Listing | None = None, offline_roots: Iterable[int] = ()) -> int:
        where, args = self._where(chosen, within, offline_roots)
        return self._db.execute(f"SELECT COUNT(*) FROM items WHERE {where}", args).fetchone()[0]

    def ordered(self, ids: Iterable[int], order: str = "path", descending: bool = False) -> list[int]:
        """An explicit set of ids (a map selection) in ``order``, then by id; ids not in the library drop."""
        if order not in ORDERS:
            raise LibraryError(f"cannot sort by {order!r}: choose one of {', '.join(ORDERS)}")
        ids, keyed = list(ids), []
        for start in range(0, len(ids), MAX_VARIABLES):
            chunk = ids[start : start + MAX_VARIABLES]
            rows = self._db.execute(
                f"SELECT id, {ORDERS[order]} FROM items WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
            keyed += [(_sort_key(value), item_id) for item_id, value in rows]
        keyed.sort(reverse=descending)
        return [item_id for _, item_id in keyed]

    def counts_matching(self, chosen: Filter) -> dict[Modality, int]:
        """How many items of each modality ``chosen`` lets through (every status)."""
        where, args = self.conditions(chosen)
        rows = self._db.execute(f"SELECT modality, COUNT(*) FROM items WHERE {where} GROUP BY modality", args)
        return {Modality(modality): count for modality, count in rows}

    def ids_matching(self, chosen: Filter) -> np.ndarray:
        """The ids of the items ``chosen`` lets through, sorted (the map's mask; no vectors read)."""
        where, args = self.conditions(chosen)
        found = self._db.execute(f"SELECT id FROM items WHERE {where} ORDER BY id", args)
        return np.fromiter((row[0] for row in found), np.int64)

    def passing(self, chosen: Filter, ids) -> np.ndarray:
        """Which of ``ids`` ``chosen`` lets through, one bool each: a search checks the items it found."""
        ids = np.asarray(ids, np.int64)
        where, args = self.conditions(chosen, "+")  # '+' keeps SQLite off the path and date indexes: look the ids up
        kept: set[int] = set()
        for start in range(0, len(ids), MAX_VARIABLES):
            chunk = ids[start : start + MAX_VARIABLES].tolist()
            query = f"SELECT id FROM items WHERE id IN ({','.join('?' * len(chunk))}) AND {where}"
            kept.update(row[0] for row in self._db.execute(query, [*chunk, *args]))
        return np.array([i in kept for i in ids.tolist()], bool)

    def has_folder(self, folder: str) -> bool:
        """Whether any item lies under ``folder`` (one step of the path index)."""
        where, args = self.conditions(Filter(under=folder))
        return self._db.execute(f"SELECT 1 FROM items WHERE {where} LIMIT 1", args).fetchone() is not None

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

    def present_under(self, folders: list[str]) -> dict[int | None, int]:
        """Per root, its items under these folders not marked missing (read only when there are folders)."""
        counts: dict[int | None, int] = {}
        if folders:
            for root_id, path in self._db.execute(
                "SELECT root_id, path FROM items WHERE missing = 0 AND path IS NOT NULL"
            ):
                if under(loaded(path), folders):
                    counts[root_id] = counts.get(root_id, 0) + 1
        return counts

    def date_range(self) -> tuple[float, float] | None:
        """The oldest and newest modification time of the items (None with no dated item); two index look-ups."""
        oldest, newest = self._db.execute(
            "SELECT (SELECT MIN(mtime) FROM items), (SELECT MAX(mtime) FROM items)"
        ).fetchone()
        return (oldest, newest) if oldest is not None else None

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
