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


BUSY = ("database is locked", "database is busy")  # SQLite's words for a lock another process holds: not damage


class LibraryBusy(LibraryError):
    """Another process held the library's write lock for longer than this one waits; nothing is damaged."""

    def __init__(self, folder: object):
        super().__init__(
            f"{folder} is busy: another process kept writing to it for longer than this one waits; "
            "nothing is damaged, try again when it is done"
        )


@dataclass(frozen=True)
class Root:
    id: int
    path: str
    mount: bool = False  # a mount point when last scanned: an empty folder here later is an unmounted drive

    @property
    def state(self) -> str:
        """ "online", "missing" (not there), "unreadable" (no permission) or "unmounted" (see ``folder_state``)."""
        return folder_state(self.path, self.mount)


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


@dataclass(frozen=True)
class Filter:
    """Which items a search, a browse listing and the map show: under a folder, matching a glob, modified in
    ``[since, until)`` (epoch seconds), of these modalities; and, for a search, scoring at least ``min_score``.
    Plain data with no condition by default. A glob is matched against the whole path (SQLite's GLOB: ``*`` also
    crosses folders, case-sensitive); one that is not absolute matches the end of the path (``*.wav``,
    ``2021/*``). Typed texts have no path and no date: a folder, a glob or a date range leaves them out."""

    under: str | None = None
    glob: str | None = None
    since: float | None = None
    until: float | None = None
    modalities: tuple[Modality, ...] = ()
    min_score: float | None = None

    @property
    def narrows(self) -> bool:
        """Whether it leaves out any item (``min_score`` leaves out results, not items)."""
        return self.by_file or bool(self.modalities)

    @property
    def by_file(self) -> bool:
        """Whether it has a condition on the files themselves (folder, glob, dates), beyond their modality."""
        return bool(self.under or self.glob) or self.since is not None or self.until is not None

    def allows(self, modality: Modality) -> bool:
        return not self.modalities or Modality(modality) in self.modalities


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


@dataclass(frozen=True)
class Listing:
    """A set of items to page through, within which a ``Filter`` applies: every item, or those of one modality,
    folder (``folder``: a root id; ``outside``: in no folder), status, or offline. Fields narrow the set together."""

    modality: Modality | None = None
    folder: int | None = None
    outside: bool = False
    status: str | None = None
    offline: bool = False
