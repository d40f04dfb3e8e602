"""The job runner without Qt: lanes, superseding, stale results, progress, cancel, shutdown."""

from __future__ import annotations

import threading

from app.state.jobs import Lane, Progress, Runner

WAIT_S = 10


def wait_idle(runner: Runner) -> None:
    gate = threading.Event()
    while not runner.is_idle():
        gate.wait(0.005)


def test_a_waiting_job_is_replaced_by_a_newer_one_of_its_slot():
    runner = Runner()
    gate = threading.Event()
    ran, returned = [], []
    runner.run("block", lambda job: gate.wait(WAIT_S))
    old = runner.run("search", lambda job: ran.append("old"))
    old.returned.connect(lambda _: returned.append("old"))
    new = runner.run("search", lambda job: ran.append("new") or "new")
    new.returned.connect(returned.append)
    runner.run("other", lambda job: ran.append("other"))
    gate.set()
    wait_idle(runner)
    assert ran == ["new", "other"] and returned == ["new"] and old.cancelled()
    assert runner.shutdown()


def test_a_stale_result_is_not_delivered():
    runner = Runner()
    started, release = threading.Event(), threading.Event()
    delivered = []

    def slow(job):
        started.set()
        release.wait(WAIT_S)
        return "stale"

    runner.run("search", slow).returned.connect(delivered.append)
    assert started.wait(WAIT_S)
    runner.run("search", lambda job: "fresh").returned.connect(delivered.append)
    release.set()
    wait_idle(runner)
    assert delivered == ["fresh"]
    runner.shutdown()


def test_errors_progress_of_any_size_cancel_and_the_final_call():
    runner = Runner()
    errors, progress, finals = [], [], []
    runner.run("boom", lambda job: 1 / 0).errored.connect(errors.append)
    download = runner.run("download", lambda job: job.report("download", 5_000_000_000, 6_000_000_000), lane=Lane.LONG)
    download.progress.connect(progress.append)
    looping = runner.run("index", lambda job: job.wait_cancelled(WAIT_S) and "stopped", lane=Lane.LONG)
    outcome = []
    looping.returned.connect(outcome.append)
    while not runner.is_busy("index") or not progress:
        threading.Event().wait(0.005)
    runner.cancel("index")
    wait_idle(runner)
    assert errors and "ZeroDivisionError" in errors[0]
    assert progress == [Progress(5_000_000_000, 6_000_000_000, "download")] and progress[0].fraction == 5 / 6
    assert outcome == ["stopped"]
    assert runner.shutdown(final=lambda: finals.append("closed")) and finals == ["closed"]


def test_the_model_loads_while_the_map_is_computed():
    """Defect 3: the model's load never waits behind PCA/UMAP on the long lane."""
    runner = Runner()
    release = threading.Event()
    loaded = threading.Event()
    runner.run("map", lambda job: release.wait(WAIT_S), lane=Lane.LONG)
    runner.run("model", lambda job: "ready", lane=Lane.MODEL).returned.connect(lambda _: loaded.set())
    assert loaded.wait(WAIT_S), "the model queued behind the map"
    assert runner.is_busy("map")
    release.set()
    wait_idle(runner)
    runner.shutdown()


def test_signals_go_through_post_so_a_view_receives_them_on_its_own_thread():
    posted = []
    runner = Runner(post=posted.append)
    got = []
    runner.run("search", lambda job: 42).returned.connect(got.append)
    wait_idle(runner)
    assert got == []  # nothing ran on the lane's thread
    for call in list(posted):
        call()
    assert got == [42]
    runner.shutdown()
