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

The package is split by concern: ``schema`` and ``migrate`` (the tables and their upgrade),
``database`` (opening, transactions, settings), ``items`` (roots and items), ``embeddings``
(models, vectors, bulk writes), ``segments`` (moments: the windows of long recordings), ``rows`` (the named types they return) and ``files`` (hashing,
display, folder state: no SQLite). ``Library`` is all of them on one connection.
"""

from __future__ import annotations

from engine.library.embeddings import BulkWriter
from engine.library.files import IMPORTED, display, folder_state, hash_file, hash_text, imported
from engine.library.rows import (
    EMBEDDED,
    FAILED,
    PENDING,
    STATUSES,
    FileState,
    Filter,
    Item,
    LibraryError,
    Listing,
    Outcome,
    Record,
    Root,
    Tally,
)
from engine.library.segments import Segments


class Library(Segments):
    """One library folder. ``create=False`` refuses to make a new one; a library whose folder cannot
    be written opens read-only (status, search, map and export work; anything that writes says why not)."""


__all__ = [
    "EMBEDDED",
    "FAILED",
    "IMPORTED",
    "PENDING",
    "STATUSES",
    "BulkWriter",
    "FileState",
    "Filter",
    "Item",
    "Library",
    "LibraryError",
    "Listing",
    "Outcome",
    "Record",
    "Root",
    "Tally",
    "display",
    "folder_state",
    "hash_file",
    "hash_text",
    "imported",
]
