"""File-system helpers every floor uses: content hashes, how a path is shown, whether a folder is reachable.

No SQLite here: the scanner, the encoder's re-check, the cluster's workers and the importer hash and show
files the same way without opening a library.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def display(text: str) -> str:
    """A path or text as a person reads it: bytes that are not UTF-8 shown as replacement characters."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def folder_state(path: str, was_mount: bool = False) -> str:
    """ "online", "missing" (not there), "unreadable" (no permission) or "unmounted" (``was_mount``: it was a mount
    point when scanned and is now an empty folder that is not one, which says nothing about its files; a folder
    that has files of its own again is simply online)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"
    if not stat.S_ISDIR(info.st_mode):
        return "missing"
    if not os.access(path, os.R_OK | os.X_OK):
        return "unreadable"
    return "unmounted" if was_mount and not os.path.ismount(path) and _empty(path) else "online"


def _empty(folder: str) -> bool:
    """No visible entry (scans leave hidden ones out too)."""
    try:
        with os.scandir(folder) as entries:
            return all(entry.name.startswith(".") for entry in entries)
    except OSError:
        return False


def under(path: str, folders: list[str]) -> bool:
    """Whether ``path`` is one of ``folders`` or inside one."""
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


IMPORTED = "import:"  # starts the identity of an imported item: never a hash this library computed from content


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
