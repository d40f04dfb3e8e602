"""The session's filters without a window: events, refusals, re-running the current search as a typed job."""

from __future__ import annotations

import threading

import pytest

from app.state.filters import Filters, SearchJob, SearchRequest
from app.state.jobs import Runner
from app.state.query import text_term
from app.state.session import Session
from engine.modality import Modality
from engine.workspace import Filter, Term


def test_a_change_is_announced_once_and_a_clear_restores_no_filter():
    filters = Filters()
    seen = []
    filters.changed.connect(seen.append)
    filters.set(under="/media/archive/2021", modalities=[Modality.AUDIO])
    filters.set(under="/media/archive/2021")  # the same: nothing to announce
    assert seen == [Filter(under="/media/archive/2021", modalities=(Modality.AUDIO,))] and filters.active
    assert filters.describe() == "under 2021, audio"
    assert filters.describe(full=True) == "under /media/archive/2021, audio"  # an exported record names it all
    filters.set(under="", glob="")  # an emptied field is no condition
    assert filters.value == Filter(modalities=(Modality.AUDIO,))
    filters.clear()
    assert filters.value == Filter() and not filters.active and filters.describe() == "" and len(seen) == 3


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"since": 2e9, "until": 1e9}, "start date is after the end date"), ({"min_score": 1.5}, "from -1 to 1")],
)
def test_a_filter_nothing_can_match_is_refused_and_the_old_one_kept(changes, reason):
    filters = Filters()
    filters.set(glob="*.wav")
    with pytest.raises(ValueError, match=reason):
        filters.set(**changes)
    assert filters.value == Filter(glob="*.wav")


def test_changing_the_filters_asks_for_the_current_search_again_only_when_there_is_one():
    session = Session()
    asked = []
    session.search_again.connect(lambda: asked.append(session.filters.value))
    session.filters.set(min_score=0.2)
    assert asked == []  # no query: nothing to search again
    session.query.add(text_term("a dog"))
    session.filters.set(since=1.7e9)
    assert asked == [Filter(since=1.7e9, min_score=0.2)]


class RecordingWorkspace:
    def __init__(self):
        self.calls = []

    def search(self, terms, k, modalities, labels, filter, moments):
        self.calls.append((terms, k, modalities, labels, filter, moments))
        return f"outcome {len(self.calls)}"


def test_a_search_job_carries_its_request_and_reports_the_outcome():
    workspace, runner = RecordingWorkspace(), Runner()
    done = threading.Event()
    returned = []
    chosen = Filter(under="/photos", min_score=0.1)
    request = SearchRequest((Term.text("rain"),), 7, (Modality.AUDIO,), ("dog",), chosen)
    job = SearchJob(workspace, request)
    job.returned.connect(lambda outcome: returned.append(outcome) or done.set())
    runner.submit(job)
    assert done.wait(10)
    assert returned == ["outcome 1"] and job.slot == "search"
    assert workspace.calls == [([Term.text("rain")], 7, [Modality.AUDIO], ["dog"], chosen, False)]
    assert runner.shutdown()
