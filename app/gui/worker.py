"""The one thread that owns the engine: model, library, searches, maps.

Widgets never call engine code. They submit jobs here (``submit``); a single long-lived
thread pulls them from a queue and runs them one at a time, and results, progress and errors
come back as Qt signals (queued onto the GUI thread). A job submitted under the key of a job
still waiting replaces it, so a moving slider never piles up searches; long jobs take a
cancel flag.

The thread is a Python ``threading.Thread``, not a Qt pool thread (superqt's workers run on
QThreadPool): PyTorch re-acquiring the GIL on a Qt-created thread while the GUI thread paints
deadlocked in testing, and Python-created threads have none of that trouble.
"""

from __future__ import annotations

import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from PySide6.QtCore import QObject, Signal


@dataclass
class Job:
    key: str
    run: Callable[[Job], Any]
    label: str = ""
    serial: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[str], None] | None = None

    def cancelled(self) -> bool:
        return self.cancel.is_set()


class JobQueue:
    """Pending jobs by key, first in first out; a job with a waiting key replaces the waiting one."""

    def __init__(self):
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._ready = threading.Condition()
        self._closed = False

    def put(self, job: Job) -> Job | None:
        """Queue ``job``; returns the waiting job it superseded, if any."""
        with self._ready:
            replaced = self._jobs.pop(job.key, None)
            self._jobs[job.key] = job
            self._ready.notify()
            return replaced

    def take(self) -> Job | None:
        """The next job, waiting for one; None once closed."""
        with self._ready:
            while not self._jobs and not self._closed:
                self._ready.wait()
            if self._closed:
                return None
            return self._jobs.popitem(last=False)[1]

    def pending(self, key: str) -> Job | None:
        with self._ready:
            return self._jobs.get(key)

    def empty(self) -> bool:
        with self._ready:
            return not self._jobs

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._jobs.clear()
            self._ready.notify_all()


class EngineThread(QObject):
    """Runs jobs on one background thread.

    Signals (delivered on the GUI thread): ``started`` and ``progress`` per job, ``finished`` or
    ``failed`` at its end, and ``idle`` after a job when no newer job of its key is waiting. A job's own ``on_done`` /
    ``on_error`` callbacks run on the GUI thread too, and only for the newest job of its key,
    so a slow stale search never overwrites a newer one's results.
    """

    started = Signal(str, str)  # key, label
    progress = Signal(str, object, object)  # key, done, total (objects: byte counts pass 2**31)
    partial = Signal(str, object)  # key, an intermediate result (a map preview before the map)
    finished = Signal(str, int, object)  # key, serial, result
    failed = Signal(str, int, str)  # key, serial, message
    idle = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._queue = JobQueue()
        self._serial = count(1)
        self._current: Job | None = None
        self._lock = threading.Lock()
        self._latest: dict[str, int] = {}
        self._final: Callable[[], Any] | None = None
        self._callbacks: dict[int, Job] = {}
        self.finished.connect(self._dispatch_done)
        self.failed.connect(self._dispatch_error)
        self._thread = threading.Thread(target=self._loop, name="bindscope-engine", daemon=True)
        self._thread.start()

    def submit(
        self,
        key: str,
        run: Callable[[Job], Any],
        label: str = "",
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> Job:
        """Queue ``run(job)`` under ``key``; a waiting job with the same key is dropped."""
        job = Job(key, run, label or key, next(self._serial), on_done=on_done, on_error=on_error)
        self._latest[key] = job.serial
        self._callbacks[job.serial] = job
        replaced = self._queue.put(job)
        if replaced is not None:
            self._callbacks.pop(replaced.serial, None)
        return job

    def _dispatch_done(self, key: str, serial: int, result: Any) -> None:
        job = self._callbacks.pop(serial, None)
        if job is not None and job.on_done is not None and self._latest.get(key) == serial:
            job.on_done(result)

    def _dispatch_error(self, key: str, serial: int, message: str) -> None:
        job = self._callbacks.pop(serial, None)
        if job is not None and job.on_error is not None and self._latest.get(key) == serial:
            job.on_error(message)

    def cancel(self, key: str) -> None:
        """Ask the running or waiting job under ``key`` to stop."""
        waiting = self._queue.pending(key)
        if waiting:
            waiting.cancel.set()
        with self._lock:
            if self._current is not None and self._current.key == key:
                self._current.cancel.set()

    def is_idle(self) -> bool:
        """No job running and none waiting."""
        with self._lock:
            return self._current is None and self._queue.empty()

    def is_busy(self, key: str) -> bool:
        with self._lock:
            return (self._current is not None and self._current.key == key) or self._queue.pending(key) is not None

    def report(self, job: Job) -> Callable[..., None]:
        """A progress callback for engine code: ``(done, total)`` or ``(phase, done, total)``."""

        def callback(*args) -> None:
            done, total = args[-2], args[-1]
            self.progress.emit(job.key, done, total or 0)

        return callback

    def deliver(self, job: Job) -> Callable[[Any], None]:
        """A callback for engine code to hand an intermediate result to the window (``partial``)."""
        return lambda value: self.partial.emit(job.key, value)

    def shutdown(self, final: Callable[[], Any] | None = None, timeout_s: float = 10.0) -> bool:
        """Cancel the running job, drop waiting ones, run ``final`` on the engine thread, and wait for it to end."""
        self._final = final
        with self._lock:
            if self._current is not None:
                self._current.cancel.set()
        self._queue.close()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _loop(self):
        while True:
            job = self._queue.take()
            if job is None:
                if self._final is not None:
                    self._final()
                return
            with self._lock:
                self._current = job
            self.started.emit(job.key, job.label)
            try:
                result = job.run(job)
            except Exception as error:  # a job's failure is reported to the window, never raised into Qt
                detail = "".join(traceback.format_exception_only(type(error), error)).strip()
                self.failed.emit(job.key, job.serial, detail)
            else:
                self.finished.emit(job.key, job.serial, result)
            finally:
                with self._lock:
                    self._current = None
            if self._queue.pending(job.key) is None:
                self.idle.emit()
