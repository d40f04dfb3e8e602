"""Locks beside a library: for work that must not run twice at once (embedding its pending items), and for
an import's long transaction, which every other writer waits for.

Two processes indexing one library would each encode every pending item (SQLite keeps the
result right, the work is done twice). ``flock(2)`` locks belong to the open file and the kernel
drops them when their holder ends, however it ends: a process killed with ``kill -9`` leaves no
stale lock, so there is nothing to clean up and nothing to guess from a PID.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

EMBEDDING = "embedding.lock"
# Held exclusively through an import's one long transaction and shared through every other write transaction,
# so a writer that comes during an import waits for it (saying so) instead of SQLite calling it locked after 60 s.
IMPORTING = "import.lock"
SHARED, EXCLUSIVE = fcntl.LOCK_SH, fcntl.LOCK_EX


def _acquire(
    descriptor: int, mode: int, waiting: Callable[[], None], cancelled: Callable[[], bool], poll: float
) -> bool:
    """Take ``mode`` on ``descriptor``: True once held, False when ``cancelled`` while another holder had it."""
    while True:
        try:
            fcntl.flock(descriptor, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if cancelled():
                return False
            waiting()
            time.sleep(poll)


@contextmanager
def exclusive(
    path: Path, waiting: Callable[[], None], cancelled: Callable[[], bool], poll: float = 0.1
) -> Iterator[bool]:
    """Hold the lock at ``path`` inside: True once held; False when ``cancelled`` while another holder had it
    (``waiting`` is called while it waits)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        yield _acquire(descriptor, EXCLUSIVE, waiting, cancelled, poll)
    finally:
        os.close(descriptor)


@contextmanager
def held(path: Path, mode: int, waiting: Callable[[], None], poll: float = 0.2) -> Iterator[None]:
    """Hold ``mode`` (``SHARED`` or ``EXCLUSIVE``) of the lock at ``path`` inside, however long another holder
    keeps it (``waiting`` is called while it waits)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(descriptor, mode, waiting, lambda: False, poll)
        yield
    finally:
        os.close(descriptor)
