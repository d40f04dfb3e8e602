"""Background jobs as typed objects with their own signals, run on named lanes; no Qt.

A ``Job`` carries what it runs and announces itself (``started``, ``progress``, ``partial``,
``returned``, ``errored``, ``finished``), the way superqt's ``thread_worker`` does, so a view
connects to the job it asked for instead of matching string keys in a shared handler. The
``Runner`` keeps one thread per ``Lane``: quick work (searches, pages, describing files) never
waits for long work (indexing, the map), and the model loads on its own lane so it never queues
behind a map of a million points. A job submitted in the ``slot`` of a job still waiting replaces
it (a moving slider never piles up searches), and only the newest job of a slot reports its
result, so a slow stale search never overwrites a newer one.

Signals are emitted through ``post``: the window passes one that runs them on the GUI thread;
tests pass none and receive them on the lane's thread. Plain Python threads, not Qt pool
threads: PyTorch re-acquiring the GIL on a Qt-created thread while the GUI thread painted
deadlocked in testing.
"""

from __future__ import annotations

import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from itertools import count
from typing import Any

from psygnal import Signal


class Lane(Enum):
    QUICK = "quick"  # interactive: searches, summaries, pages, describing dropped files
    LONG = "long"  # indexing, imports, the map, re-embedding, downloads
    MODEL = "model"  # loading the library's model: never behind the map
    PAGES = "pages"  # browse pages: a page of a million never waits behind a summary or a search


@dataclass(frozen=True)
class Progress:
    """How far a job is: ``done`` of ``total`` (0 when unknown) in a named ``phase``."""

    done: int
    total: int
    phase: str = ""

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


class Job:
    """One piece of background work and its signals (emitted on the thread ``Runner.post`` chooses)."""

    started = Signal()
    progress = Signal(Progress)
    partial = Signal(object)  # an intermediate result (a map preview before the map)
    returned = Signal(object)
    errored = Signal(str)  # a sentence for people
    finished = Signal()  # after ``returned`` or ``errored`` (only for the newest job of its slot)

    def __init__(self, slot: str, run: Callable[[Job], Any], label: str = "", lane: Lane = Lane.QUICK):
        self.slot = slot
        self.run = run
        self.label = label
        self.lane = lane
        self.serial = 0
        self._cancel = threading.Event()
        self._post: Callable[[Callable[[], None]], None] = _now

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait_cancelled(self, seconds: float) -> bool:
        return self._cancel.wait(seconds)

    def report(self, phase: str, done: int, total: int | None) -> None:
        """The engine's ``Progress(phase, done, total)`` callback, posted to the job's listeners."""
        self._post(lambda: self.progress.emit(Progress(done, total or 0, phase)))

    def deliver(self, value: Any) -> None:
        self._post(lambda: self.partial.emit(value))


def _now(call: Callable[[], None]) -> None:
    call()


class JobQueue:
    """Waiting jobs by slot, first in first out; a job in a waiting slot replaces the waiting one."""

    def __init__(self):
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._ready = threading.Condition()
        self._closed = False

    def put(self, job: Job) -> Job | None:
        """Queue ``job``; returns the waiting job it superseded, if any."""
        with self._ready:
            replaced = self._jobs.pop(job.slot, None)
            self._jobs[job.slot] = job
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

    def pending(self, slot: str) -> Job | None:
        with self._ready:
            return self._jobs.get(slot)

    def empty(self) -> bool:
        with self._ready:
            return not self._jobs

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._jobs.clear()
            self._ready.notify_all()


class _LaneThread:
    def __init__(self, lane: Lane, loop: Callable[[_LaneThread], None]):
        self.lane = lane
        self.queue = JobQueue()
        self.current: Job | None = None
        self.thread = threading.Thread(target=loop, args=(self,), name=f"bindscope-{lane.value}", daemon=True)


class Runner:
    """Runs jobs, one lane thread each; ``activity`` fires (through ``post``) whenever a job starts or ends."""

    activity = Signal()

    def __init__(
        self,
        post: Callable[[Callable[[], None]], None] = _now,
        describe_error: Callable[[BaseException], str] | None = None,
    ):
        self.post = post
        self._describe = describe_error or _traceback_line
        self._serial = count(1)
        self._lock = threading.Lock()
        self._latest: dict[str, int] = {}
        self._final: Callable[[], Any] | None = None
        self._lanes = {lane: _LaneThread(lane, self._loop) for lane in Lane}
        for lane in self._lanes.values():
            lane.thread.start()

    def submit(self, job: Job) -> Job:
        """Queue ``job`` on its lane; a job waiting in its slot is dropped (and cancelled)."""
        job.serial = next(self._serial)
        job._post = self.post
        with self._lock:
            self._latest[job.slot] = job.serial
        replaced = self._lanes[job.lane].queue.put(job)
        if replaced is not None:
            replaced.cancel()
        return job

    def run(self, slot: str, run: Callable[[Job], Any], label: str = "", lane: Lane = Lane.QUICK) -> Job:
        """Make and submit a job; connect to its signals before control returns to the event loop."""
        return self.submit(Job(slot, run, label, lane))

    def cancel(self, slot: str) -> None:
        """Ask the running or waiting job of ``slot`` to stop."""
        with self._lock:
            for lane in self._lanes.values():
                waiting = lane.queue.pending(slot)
                if waiting:
                    waiting.cancel()
                if lane.current is not None and lane.current.slot == slot:
                    lane.current.cancel()

    def waiting(self, slot: str) -> Job | None:
        """The job of ``slot`` queued and not started yet, if any."""
        return next((j for lane in self._lanes.values() if (j := lane.queue.pending(slot)) is not None), None)

    def running(self) -> list[Job]:
        with self._lock:
            return [lane.current for lane in self._lanes.values() if lane.current is not None]

    def is_idle(self) -> bool:
        with self._lock:
            return all(lane.current is None and lane.queue.empty() for lane in self._lanes.values())

    def is_busy(self, slot: str) -> bool:
        with self._lock:
            return any(
                (lane.current is not None and lane.current.slot == slot) or lane.queue.pending(slot) is not None
                for lane in self._lanes.values()
            )

    def shutdown(self, final: Callable[[], Any] | None = None, timeout_s: float = 10.0) -> bool:
        """Cancel running jobs, drop waiting ones, run ``final`` on the quick lane's thread once the others
        stopped, and wait for it."""
        self._final = final
        with self._lock:
            for lane in self._lanes.values():
                if lane.current is not None:
                    lane.current.cancel()
        quick = self._lanes[Lane.QUICK]
        for lane in self._lanes.values():
            if lane is not quick:
                lane.queue.close()
                lane.thread.join(timeout_s)
        quick.queue.close()
        quick.thread.join(timeout_s)
        return not any(lane.thread.is_alive() for lane in self._lanes.values())

    def _newest(self, job: Job) -> bool:
        with self._lock:
            return self._latest.get(job.slot) == job.serial

    def _loop(self, lane: _LaneThread) -> None:
        while True:
            job = lane.queue.take()
            if job is None:
                if lane.lane is Lane.QUICK and self._final is not None:
                    self._final()
                return
            with self._lock:
                lane.current = job
            self.post(job.started.emit)
            self.post(self.activity.emit)
            try:
                result = job.run(job)
            except Exception as error:  # a job's failure is reported to its view, never raised into the loop
                message = self._describe(error)
                self.post(lambda job=job, message=message: self._end(job, job.errored, message))
            else:
                self.post(lambda job=job, result=result: self._end(job, job.returned, result))
            finally:
                with self._lock:
                    lane.current = None
                self.post(self.activity.emit)

    def _end(self, job: Job, signal, value: Any) -> None:
        if self._newest(job):
            signal.emit(value)
            job.finished.emit()


def _traceback_line(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(error), error)).strip()
