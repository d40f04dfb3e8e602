from __future__ import annotations

import threading

from app.gui.worker import GuiPost
from app.state.jobs import Lane, Runner


def test_job_signals_arrive_on_the_gui_thread(qtbot):
    runner = Runner(post=GuiPost().post)
    threads: list[bool] = []
    job = runner.run("index", lambda job: job.report("embed", 1, 2) or "done", lane=Lane.LONG)
    job.progress.connect(lambda p: threads.append(threading.current_thread() is threading.main_thread()))
    job.returned.connect(lambda _: threads.append(threading.current_thread() is threading.main_thread()))
    qtbot.waitUntil(lambda: len(threads) == 2, timeout=10_000)
    assert threads == [True, True]
    assert runner.shutdown()
