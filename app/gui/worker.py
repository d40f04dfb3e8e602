"""The threads that run the engine for the window: one for quick work, one for long jobs.

Widgets never call engine code. They submit jobs here (``submit``); two long-lived threads pull
them from their queues and run them one at a time each, and results, progress and errors come
back as Qt signals (queued onto the GUI thread). Quick, interactive work (searches, the library's
summary, pages of items, describing dropped files) has its own thread, so a search answers while
a long job (indexing, an import, the map, loading the model, re-embedding) runs on the other;
the workspace gives long jobs their own database connection. A job submitted under the key of
a job still waiting replaces it, so a moving slider never piles up searches; long jobs take a
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


class _Lane:
    """One queue and the thread that works through it."""

    def __init__(self, name: str, run: Callable[[_Lane], None]):
        self.queue = JobQueue()
        self.current: Job | None = None
        self.thread = threading.Thread(target=run, args=(self,), name=f"bindscope-{name}", daemon=True)


class EngineThread(QObject):
    """Runs jobs on two background threads: ``background=True`` jobs on the long-job lane, others on the quick one.

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

    def __init__(self, parent: QObject | None = None, describe_error: Callable[[BaseException], str] | None = None):
        super().__init__(parent)
        self._serial = count(1)
        self._lock = threading.Lock()
        self._latest: dict[str, int] = {}
        self._final: Callable[[], Any] | None = None
        self._callbacks: dict[int, Job] = {}
        self._describe = describe_error or _traceback_line
        self.finished.connect(self._dispatch_done)
        self.failed.connect(self._dispatch_error)
        self._quick, self._long = _Lane("engine", self._loop), _Lane("engine-long", self._loop)
        self._lanes = (self._quick, self._long)
        for lane in self._lanes:
            lane.thread.start()

    def submit(
        self,
        key: str,
        run: Callable[[Job], Any],
        label: str = "",
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        background: bool = False,
    ) -> Job:
        """Queue ``run(job)`` under ``key`` on the quick lane, or the long-job lane; a waiting job of that key
        is dropped."""
        job = Job(key, run, label or key, next(self._serial), on_done=on_done, on_error=on_error)
        self._latest[key] = job.serial
        self._callbacks[job.serial] = job
        replaced = (self._long if background else self._quick).queue.put(job)
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
        with self._lock:
            for lane in self._lanes:
                waiting = lane.queue.pending(key)
                if waiting:
                    waiting.cancel.set()
                if lane.current is not None and lane.current.key == key:
                    lane.current.cancel.set()

    def is_idle(self) -> bool:
        """No job running and none waiting, on either lane."""
        with self._lock:
            return all(lane.current is None and lane.queue.empty() for lane in self._lanes)

    def is_busy(self, key: str) -> bool:
        with self._lock:
            return any(
                (lane.current is not None and lane.current.key == key) or lane.queue.pending(key) is not None
                for lane in self._lanes
            )

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
        """Cancel running jobs, drop waiting ones, run ``final`` on the quick lane's thread once both lanes
        stopped, and wait for it."""
        self._final = final
        with self._lock:
            for lane in self._lanes:
                if lane.current is not None:
                    lane.current.cancel.set()
        self._long.queue.close()
        self._long.thread.join(timeout_s)
        self._quick.queue.close()
        self._quick.thread.join(timeout_s)
        return not any(lane.thread.is_alive() for lane in self._lanes)

    def _loop(self, lane: _Lane) -> None:
        while True:
            job = lane.queue.take()
            if job is None:
                if lane is self._quick and self._final is not None:
                    self._final()
                return
            with self._lock:
                lane.current = job
            self.started.emit(job.key, job.label)
            try:
                result = job.run(job)
            except Exception as error:  # a job's failure is reported to the window, never raised into Qt
                self.failed.emit(job.key, job.serial, self._describe(error))
            else:
                self.finished.emit(job.key, job.serial, result)
            finally:
                with self._lock:
                    lane.current = None
            if lane.queue.pending(job.key) is None:
                self.idle.emit()


def _traceback_line(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(error), error)).strip()
