"""A library's moments: the embedded windows (segments) of its long recordings, per model.

A segment is keyed like an embedding, by its file's content (hash, modality) and the model, plus its
span in seconds: a moved, renamed or duplicated file keeps its segments, and a file whose content
changed gets new ones. Segments whose content no item holds any more are dropped in the transaction
that removes or changes the last such item (``Items._drop_unheld_segments``: a scan, forgetting missing
files, removing a folder, an import that changes a file's content). Vectors go to the model's
segment files (``Database.segment_store``), appended and fsynced inside the write transaction like
the items' vectors, and are checked finite before anything is stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

from engine.library.embeddings import BulkWriter, Embeddings
from engine.library.rows import Item, Record
from engine.library.schema import MAX_VARIABLES
from engine.modality import Modality
from engine.preprocess.windows import HOP_TOLERANCE, check_hop, stored_hop

# A content cut with another hop than the library's (its three parameters: ``_hop_values``). A file that could not
# be cut, or had no windows (no longer than one), is not cut again for a new hop.
_RECUT = "s.error IS NULL AND s.windows > 0 AND ABS(COALESCE(s.hop, ?) - ?) > ?"


class Segments(Embeddings):
    @property
    def moments_hop(self) -> float:
        """The hop, as a fraction of a window, that indexing cuts long recordings with (a library setting). It
        applies from the next indexing run: files cut with another hop are cut again (``unsegmented``)."""
        return stored_hop(self.get_meta("moments_hop"))

    def set_moments_hop(self, hop_fraction: float) -> None:
        hop = check_hop(hop_fraction)
        with self.transaction():
            self.set_meta("moments_hop", repr(hop))

    def segment_rows(self, key: str) -> dict[Modality, int]:
        """Committed segment vector rows per modality for a model: the segment index's O(1) staleness check."""
        rows = self._db.execute("SELECT modality, rows FROM segment_stores WHERE model = ?", (key,))
        return {Modality(m): n for m, n in rows}

    def segment_counts(self, key: str) -> dict[Modality, int]:
        """Segments per modality held for a model (rows of dropped contents left out)."""
        rows = self._db.execute("SELECT modality, COUNT(*) FROM segments WHERE model = ? GROUP BY modality", (key,))
        return {Modality(m): n for m, n in rows}

    def unsegmented(self, key: str, modalities: Sequence[Modality], video_suffixes: Sequence[str]) -> list[Item]:
        """Embedded files of time-axis modalities whose content has no windows recorded for the model yet, or whose
        windows were cut with another hop than the library's (``_RECUT``), one item per content (the first by id);
        vision files only when their name ends in one of ``video_suffixes``. Imported items are left out: their files
        were never read here."""
        videos = " OR ".join("lower(CAST(path AS TEXT)) LIKE ?" for _ in video_suffixes) or "0"
        rows = self._db.execute(
            f"""SELECT * FROM items i WHERE status = 'embedded' AND path IS NOT NULL AND hash NOT LIKE 'import:%'
                AND modality IN ({",".join("?" * len(modalities))})
                AND (modality != 'vision' OR {videos})
                AND (NOT EXISTS (SELECT 1 FROM segmented s
                                 WHERE s.hash = i.hash AND s.modality = i.modality AND s.model = ?)
                     OR EXISTS (SELECT 1 FROM segmented s WHERE s.hash = i.hash AND s.modality = i.modality
                                AND s.model = ? AND {_RECUT}))
                AND id = (SELECT MIN(id) FROM items j WHERE j.hash = i.hash AND j.modality = i.modality)
                ORDER BY id""",
            [
                *(m.value for m in modalities),
                *(f"%{s.lower()}" for s in video_suffixes),
                key,
                key,
                *self._hop_values(),
            ],
        )
        return [self._item(r) for r in rows]

    def recut_waiting(self, key: str) -> int:
        """Files (contents) whose windows were cut with another hop than the library's: the next index cuts them
        again. Counted from the records of the cut alone, so ``status`` stays cheap beside a million pictures."""
        row = self._db.execute(
            f"SELECT COUNT(*) FROM segmented s WHERE s.model = ? AND {_RECUT}", (key, *self._hop_values())
        ).fetchone()
        return row[0]

    def _hop_values(self) -> tuple[float, float, float]:
        return self.moments_hop, self.moments_hop, HOP_TOLERANCE

    def record_segments(
        self,
        key: str,
        item: Item,
        spans: Sequence[tuple[float, float]],
        vectors: np.ndarray,
        scales: Sequence[float],
        failed: int = 0,
        error: str | None = None,
        hop: float | None = None,
    ) -> int:
        """Store one file's windows (spans in seconds, unit vectors, scales) cut with ``hop`` and mark its content
        segmented, in one transaction; ``error`` records a file that could not be cut (not tried again). A content cut
        before with another hop loses its old windows in the same transaction: a run killed before it commits
        leaves them, to be cut again. Returns segments added."""
        content = (item.hash, key, item.modality.value)
        with self.transaction() as db:
            before = db.execute("SELECT hop FROM segmented WHERE hash = ? AND model = ? AND modality = ?", content)
            cut = before.fetchone()
            if cut is not None and None not in (cut[0], hop) and abs(cut[0] - hop) > HOP_TOLERANCE:
                db.execute("DELETE FROM segments WHERE hash = ? AND model = ? AND modality = ?", content)
                self._bump()  # their vector rows stay in the file, owned by nothing: searches skip them
            added = self._append_segments(db, key, item.modality, [item.hash] * len(spans), spans, vectors, scales)
            db.execute(
                "INSERT OR REPLACE INTO segmented(hash, model, modality, windows, failed, error, hop) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*content, len(spans), failed, error, hop),
            )
            if added:
                self._bump()
        return added

    def _append_segments(
        self,
        db: sqlite3.Connection,
        key: str,
        modality: Modality,
        hashes: Sequence[str],
        spans: Sequence[tuple[float, float]],
        vectors: np.ndarray,
        scales: Sequence[float],
    ) -> int:
        """Inside a write transaction: append the windows (of the contents ``hashes``, one a window) not stored
        yet, in one write to the vector file; returns how many."""
        if not len(spans):
            return 0
        known = {
            (content, r[0], r[1])
            for content in dict.fromkeys(hashes)
            for r in db.execute(
                "SELECT start_s, end_s FROM segments WHERE hash = ? AND model = ? AND modality = ?",
                (content, key, modality.value),
            )
        }
        fresh = []
        for n, (content, span) in enumerate(zip(hashes, spans, strict=True)):
            window = (content, float(span[0]), float(span[1]))
            if window not in known:
                known.add(window)  # a window given twice in one batch is stored once
                fresh.append(n)
        if not fresh:
            return 0
        block = np.ascontiguousarray(np.asarray(vectors, np.float32)[fresh])
        if not np.isfinite(block).all():
            raise ValueError("a segment vector that is not finite reached the library; nothing of this batch is stored")
        row = db.execute(
            "SELECT rows FROM segment_stores WHERE model = ? AND modality = ?", (key, modality.value)
        ).fetchone()
        start = row[0] if row else 0
        self.segment_store(key).append(modality, start, block)
        db.executemany(
            "INSERT INTO segments(hash, model, modality, start_s, end_s, row, scale) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (hashes[n], key, modality.value, float(spans[n][0]), float(spans[n][1]), start + i, float(scales[n]))
                for i, n in enumerate(fresh)
            ],
        )
        db.execute(
            "INSERT INTO segment_stores(model, modality, rows) VALUES (?, ?, ?) "
            "ON CONFLICT(model, modality) DO UPDATE SET rows = excluded.rows",
            (key, modality.value, start + len(fresh)),
        )
        return len(fresh)

    def items_at_segment_rows(self, key: str, modality: Modality, rows: Sequence[int]) -> dict[int, list[int]]:
        """segment vector row -> ids of the items whose content it is a window of (duplicates share it)."""
        return {
            row: [item for item, _, _ in found] for row, found in self.segments_at_rows(key, modality, rows).items()
        }

    def segments_at_rows(
        self, key: str, modality: Modality, rows: Sequence[int]
    ) -> dict[int, list[tuple[int, float, float]]]:
        """segment vector row -> (item id, start, end) of each item holding it, by item id."""
        found: dict[int, list[tuple[int, float, float]]] = {}
        rows = [int(r) for r in rows]
        for first in range(0, len(rows), MAX_VARIABLES):
            chunk = rows[first : first + MAX_VARIABLES]
            result = self._db.execute(
                f"""SELECT s.row, i.id, s.start_s, s.end_s FROM segments s
                    CROSS JOIN items i ON i.hash = s.hash AND i.modality = s.modality
                    WHERE s.model = ? AND s.modality = ? AND s.row IN ({",".join("?" * len(chunk))})
                    ORDER BY i.id""",
                [key, Modality(modality).value, *chunk],
            )
            for row, item_id, start, end in result:
                found.setdefault(row, []).append((item_id, start, end))
        return found

    def segment_export_rows(
        self, key: str, modality: Modality
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(item ids, vector rows, scales, starts, ends) of a modality's held moments under a model, each as a
        window of the first item holding its content, by item and time."""
        rows = self._db.execute(
            """SELECT MIN(i.id), s.row, s.scale, s.start_s, s.end_s FROM segments s
               JOIN items i ON i.hash = s.hash AND i.modality = s.modality
               WHERE s.model = ? AND s.modality = ? GROUP BY s.row ORDER BY 1, s.start_s, s.end_s""",
            (key, Modality(modality).value),
        ).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
        return (
            np.array(columns[0], np.int64),
            np.array(columns[1], np.int64),
            np.array(columns[2], np.float32),
            np.array(columns[3], np.float64),
            np.array(columns[4], np.float64),
        )

    def segment_rows_of(self, key: str, modality: Modality, item_ids: Sequence[int]) -> list[int]:
        """The segment vector rows of these items' contents under a model."""
        found: list[int] = []
        ids = [int(i) for i in item_ids]
        for first in range(0, len(ids), MAX_VARIABLES):
            chunk = ids[first : first + MAX_VARIABLES]
            found += [
                r[0]
                for r in self._db.execute(
                    f"""SELECT s.row FROM items i JOIN segments s ON s.hash = i.hash AND s.modality = i.modality
                        WHERE s.model = ? AND s.modality = ? AND i.id IN ({",".join("?" * len(chunk))})""",
                    [key, Modality(modality).value, *chunk],
                )
            ]
        return found

    def segments_of(self, key: str, item_id: int) -> list[tuple[float, float, int]]:
        """(start, end, vector row) of one item's segments under a model, in time order."""
        return [
            (r[0], r[1], r[2])
            for r in self._db.execute(
                """SELECT s.start_s, s.end_s, s.row FROM items i CROSS JOIN segments s
                   ON s.hash = i.hash AND s.modality = i.modality AND s.model = ? WHERE i.id = ?
                   ORDER BY s.start_s, s.end_s""",
                (key, item_id),
            )
        ]

    def segment_at(self, key: str, item_id: int, start: float, end: float) -> tuple[Modality, int, float] | None:
        """(modality, vector row, scale) of one item's window by its span under a model: a moment as a query."""
        row = self._db.execute(
            """SELECT s.modality, s.row, s.scale FROM items i CROSS JOIN segments s
               ON s.hash = i.hash AND s.modality = i.modality AND s.model = ?
               WHERE i.id = ? AND s.start_s = ? AND s.end_s = ?""",
            (key, int(item_id), float(start), float(end)),
        ).fetchone()
        return (Modality(row[0]), row[1], row[2]) if row else None


class SegmentWriter(BulkWriter):
    """``BulkWriter`` that also adds moments (an import's windows of the files it holds)."""

    segments = 0  # moments added

    def add_segments(
        self,
        records: Sequence[Record],
        vectors: np.ndarray,
        scales: Sequence[float],
        spans: Sequence[tuple[float, float]],
    ) -> list[int]:
        """Windows of files by their records (hash and modality); returns the positions refused because no item
        holds their content (a window's file row must come first)."""
        held = {
            content: self._db.execute(
                "SELECT 1 FROM items WHERE hash = ? AND modality = ?", (content[0], content[1].value)
            ).fetchone()
            is not None
            for content in dict.fromkeys((r.hash, r.modality) for r in records)
        }
        refused = [n for n, r in enumerate(records) if not held[r.hash, r.modality]]
        for modality in dict.fromkeys(r.modality for r in records):
            picks = [n for n, r in enumerate(records) if r.modality is modality and held[r.hash, modality]]
            self.segments += self._library._append_segments(
                self._db,
                self.key,
                modality,
                [records[n].hash for n in picks],
                [spans[n] for n in picks],
                vectors[picks],
                [scales[n] for n in picks],
            )
        return refused


Segments.writer_type = SegmentWriter
