"""Derived artefacts kept beside a library under ``cache/`` (search indexes, maps): one place and one way to save.

They can always be made again from the library, so each records what it was derived from (the
search index: the committed vector rows it holds; the map: the library's generation) and is used
only while that still matches, or updated from it. A save is atomic (a temporary name in the same
folder, then a rename: a reader finds the old file or the new one, never half of one), and a save
that fails (a full or read-only disk) fails quietly: the artefact still serves from memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def cache_folder(library_folder: Path) -> Path:
    """Where a library's derived artefacts live."""
    return library_folder / "cache"


def save_atomically(path: Path, write: Callable[[Path], None], suffix: str = "") -> bool:
    """``write`` the artefact to a temporary file beside ``path`` (ending in ``suffix``, for writers that insist on
    their extension), then rename it into place; False when it could not be saved."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp{suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(partial)
        partial.replace(path)
        return True
    except (OSError, RuntimeError):  # RuntimeError: FAISS reports I/O failures so
        return False
    finally:
        partial.unlink(missing_ok=True)
