"""A lock beside a library for work that must not run twice at once: embedding its pending items.

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


@contextmanager
def exclusive(
    path: Path, waiting: Callable[[], None], cancelled: Callable[[], bool], poll: float = 0.1
) -> Iterator[bool]:
    """Hold the lock at ``path`` inside: True once held; False when ``cancelled`` while another holder had it
    (``waiting`` is called while it waits)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if cancelled():
                    yield False
                    return
                waiting()
                time.sleep(poll)
        yield True
    finally:
        os.close(descriptor)
