"""What a library holds, as named types: roots, items, file states, import records and embedding outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from engine.library.files import display, folder_state
from engine.modality import Modality

PENDING, EMBEDDED, FAILED = "pending", "embedded", "failed"  # an item's status under the library's model
STATUSES = (PENDING, EMBEDDED, FAILED)


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


class FileState(NamedTuple):
    """What the library recorded of a file under a root: what a scan compares the disk with."""

    size: int
    mtime: float
    hash: str
    modality: str
    status: str
    error_kind: str | None
    missing: bool


class Tally(NamedTuple):
    """How many items of one root, modality and status there are, and how many of them are offline."""

    root_id: int | None
    modality: str
    status: str
    items: int
    missing: int


SORTS = {"path": "path", "date": "mtime"}  # how a listing can be ordered (then by id), by its column


@dataclass(frozen=True)
class Listing:
    """A set of items to page through: every item, or those of one modality, folder (``folder``: a root id;
    ``outside``: in no folder), status, or offline. Fields narrow the set together."""

    modality: Modality | None = None
    folder: int | None = None
    outside: bool = False
    status: str | None = None
    offline: bool = False
