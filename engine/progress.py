"""How a long job reports and is stopped, the same for every job of the engine.

``Progress(phase, done, total)``: ``phase`` names the step ("scan", "embed", "import", "download"...),
``total`` is None while unknown. ``Cancelled()`` is asked between batches; True stops the job after
the batch in hand, keeping what was committed.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int | None], None]
Cancelled = Callable[[], bool]


def never() -> bool:
    """The ``Cancelled`` of a job nobody stops."""
    return False
