"""The window's end of the job runner (``app.state.jobs``): job signals are delivered on the GUI thread.

The runner emits a job's signals through ``post``; ``GuiPost.post`` hands each emission to the GUI
thread through a queued Qt signal, so widgets connected to a job are only ever touched there.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal


class GuiPost(QObject):
    """Runs callables on the thread this object lives on (the GUI thread)."""

    _call = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def post(self, call: Callable[[], None]) -> None:
        self._call.emit(call)

    @staticmethod
    def _run(call: Callable[[], None]) -> None:
        call()
