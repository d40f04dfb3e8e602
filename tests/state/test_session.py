"""What the session says about the library and the model, without a window."""

from __future__ import annotations

from types import SimpleNamespace

from app.state.session import ModelStatus, Session

SUMMARY = SimpleNamespace(saved_queries={})  # the session reads only the saved queries of the summary


def test_the_status_tells_the_truth_while_a_library_opens_and_its_model_loads():
    session = Session()
    texts = []
    session.status_changed.connect(texts.append)
    assert session.model_text() == "No library open"
    session.begin_opening("/data/photos")
    assert session.model_text() == "Opening photos…" and texts[-1] == "Opening photos…"
    assert not session.model_ready
    session.opened(SUMMARY)
    assert session.model_text() == "Loading the model…" and not session.model_ready
    session.model_loaded("Demo model · cpu · float32")
    assert session.model_text() == "Demo model · cpu · float32" and session.model_ready


def test_a_missing_model_is_settled_and_named():
    session = Session()
    session.begin_opening("/lib")
    session.opened(SUMMARY)
    session.model_missing("ImageBind-huge is not on this machine: download it")
    assert session.model_status is ModelStatus.MISSING and session.model_ready
    assert session.model_text() == "ImageBind-huge is not on this machine"


def test_a_failure_message_is_cleared_by_the_next_success_but_news_stays():
    session = Session()
    session.fail("The query could not run: unexpected AssertionError")
    session.searched(None, "Results")
    assert session.message == ""
    session.say("Exported 10 results")
    session.searched(None, "Results")
    assert session.message == "Exported 10 results"


def test_moments_mode_and_the_last_searchs_moments():
    from types import SimpleNamespace

    from engine.modality import Modality
    from engine.workspace import Moment

    session = Session()
    switched = []
    session.moments_changed.connect(switched.append)
    session.set_moments(True)
    session.set_moments(True)
    assert session.moments and switched == [True]
    assert session.moment_hits() == []
    long = SimpleNamespace(id=7, path="/rec/long.wav")
    found = [Moment(7, 3.0, 9.0, 0.4, Modality.AUDIO), Moment(8, 0.0, 6.0, 0.3, Modality.AUDIO)]
    session.searched(SimpleNamespace(moments=found, items={7: long}), "Results")  # item 8 was forgotten meanwhile
    assert session.moment_hits() == [(long, found[0])]
