from __future__ import annotations

import threading

from app.gui.worker import EngineThread


def test_a_waiting_job_is_replaced_by_a_newer_one_of_its_key(qtbot):
    engine = EngineThread()
    gate = threading.Event()
    ran: list[str] = []
    done: list[str] = []
    engine.submit("block", lambda job: gate.wait(10))
    engine.submit("search", lambda job: ran.append("old"), on_done=lambda _: done.append("old"))
    engine.submit("search", lambda job: ran.append("new"), on_done=lambda _: done.append("new"))
    engine.submit("other", lambda job: ran.append("other"))
    gate.set()
    qtbot.waitUntil(engine.is_idle, timeout=10_000)
    qtbot.waitUntil(lambda: done == ["new"], timeout=10_000)
    assert ran == ["new", "other"]
    engine.shutdown()


def test_stale_results_are_not_delivered(qtbot):
    engine = EngineThread()
    started, release = threading.Event(), threading.Event()
    delivered: list[str] = []

    def slow(job):
        started.set()
        release.wait(10)
        return "stale"

    engine.submit("search", slow, on_done=delivered.append)
    assert started.wait(10)
    engine.submit("search", lambda job: "fresh", on_done=delivered.append)  # queued while the first runs
    release.set()
    qtbot.waitUntil(lambda: delivered == ["fresh"], timeout=10_000)
    engine.shutdown()


def test_errors_progress_cancel_and_the_final_call(qtbot):
    engine = EngineThread()
    errors, progress, finals = [], [], []
    engine.progress.connect(lambda key, done, total: progress.append((done, total)))
    engine.submit("boom", lambda job: 1 / 0, on_error=errors.append)
    engine.submit("download", lambda job: engine.report(job)(5_000_000_000, 6_000_000_000))

    def loop(job):
        while not job.cancelled():
            job.cancel.wait(0.01)
        return "stopped"

    engine.submit("index", loop)
    qtbot.waitUntil(lambda: engine.is_busy("index") and bool(progress), timeout=10_000)
    engine.cancel("index")
    qtbot.waitUntil(engine.is_idle, timeout=10_000)
    assert errors and "ZeroDivisionError" in errors[0]
    assert progress == [(5_000_000_000, 6_000_000_000)]  # byte counts beyond 2**31 arrive intact
    assert engine.shutdown(final=lambda: finals.append("closed"))
    assert finals == ["closed"]


def test_quick_jobs_answer_while_a_long_job_runs(qtbot):
    engine = EngineThread()
    release = threading.Event()
    done: list[str] = []
    engine.submit("index", lambda job: release.wait(10), background=True)
    engine.submit("search", lambda job: "answered", on_done=done.append)
    qtbot.waitUntil(lambda: done == ["answered"], timeout=5_000)
    assert engine.is_busy("index") and not engine.is_idle()
    release.set()
    qtbot.waitUntil(engine.is_idle, timeout=10_000)
    engine.shutdown()
