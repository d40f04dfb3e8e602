"""Browsing a set page by page without a window: listings, results and selections; sort, picks and actions."""

from __future__ import annotations

import math

import pytest

from app.state.browse import Browse, chosen_set, listing_set, paths_text, query_term, results_set
from engine.library import Library
from engine.modality import Modality
from engine.workspace import Listing, Workspace


@pytest.fixture()
def workspace(tmp_path):
    """A library of 25 images (dates falling as names rise) and 3 sounds in one folder."""
    library = Library(tmp_path / "lib")
    root = library.add_root(tmp_path / "photos")
    files = [(f"{root.path}/{n:03d}.png", Modality.VISION, 1, 1000.0 - n, f"h{n}") for n in range(25)]
    files += [(f"{root.path}/s{n}.wav", Modality.AUDIO, 1, 1.0, f"s{n}") for n in range(3)]
    library.upsert_files(root.id, files)
    library.close()
    workspace = Workspace.open(tmp_path / "lib")
    yield workspace
    workspace.close()


class Jobs:
    """Runs work when told, as the window's job lanes do later: pages arrive after the view asked."""

    def __init__(self):
        self.waiting = []

    def __call__(self, work, done):
        self.waiting.append((work, done))

    def finish(self):
        while self.waiting:
            work, done = self.waiting.pop(0)
            done(work())


def _browse(workspace, page=10):
    jobs = Jobs()
    return Browse(lambda: workspace, jobs, page=page), jobs


def test_a_listing_is_counted_then_read_a_page_at_a_time_as_rows_are_asked_for(workspace):
    browse, jobs = _browse(workspace)
    arrived = []
    browse.rows_arrived.connect(lambda first, n: arrived.append((first, n)))
    browse.open(listing_set("Images", Listing(Modality.VISION)))
    assert browse.total == 0
    jobs.finish()
    assert browse.total == 25 and browse.sort == "path"
    assert browse.item(21) is None  # asked for: its page is read off the GUI thread
    assert browse.item(22) is None and len(jobs.waiting) == 1  # one request per page
    jobs.finish()
    assert arrived == [(20, 5)]
    assert [browse.item(row).name for row in (20, 24)] == ["020.png", "024.png"]
    browse.set_sort("date", descending=True)
    jobs.finish()
    browse.item(0)
    jobs.finish()
    assert browse.item(0).name == "000.png"  # the newest file first
    assert math.isnan(browse.score(browse.item(0)))


def test_a_page_for_a_set_no_longer_shown_is_dropped(workspace):
    browse, jobs = _browse(workspace)
    browse.open(listing_set("Images", Listing(Modality.VISION)))
    jobs.finish()
    browse.item(0)
    browse.open(listing_set("Sounds", Listing(Modality.AUDIO)))  # before the images' page arrived
    jobs.finish()
    assert browse.total == 3
    browse.item(0)
    jobs.finish()
    assert browse.item(0).name == "s0.wav"


def test_results_are_paged_best_first_and_can_be_sorted_by_path(workspace):
    images = workspace.listing(None, limit=25, within=Listing(Modality.VISION))
    cards = [(item, n / 100) for n, item in enumerate(images)]
    browse, jobs = _browse(workspace)
    browse.open(results_set("Results", cards))
    assert browse.sort == "score" and browse.total == 25 and not jobs.waiting
    assert browse.item(0).name == "024.png" and not jobs.waiting  # results are in hand: nothing to read
    assert browse.score(browse.item(0)) == pytest.approx(0.24)
    browse.set_sort("path")
    assert browse.total == 0  # ordering by path reads the library
    jobs.finish()
    assert browse.item(0).name == "000.png" and not jobs.waiting


def test_picked_items_are_read_across_pages_and_become_a_query_term_or_paths(workspace):
    ids = [item.id for item in workspace.listing(limit=100)]
    browse, jobs = _browse(workspace, page=4)
    browse.open(chosen_set("Map selection", ids))
    jobs.finish()
    assert browse.total == 28
    browse.picks.click(1)
    browse.picks.click(26, ctrl=True)
    got = []
    browse.picked(got.append)
    jobs.finish()
    names = [item.name for item in got[0]]
    assert names == ["001.png", "s1.wav"]
    assert paths_text(got[0]).splitlines()[1].endswith("photos/s1.wav")
    term = query_term(got[0])
    assert term.name == "Selection of 2 items" and len(term.parts) == 2
    assert query_term(got[0][:1]).name == "001.png" and query_term([]) is None


def test_density_stays_within_its_choices(workspace):
    browse, _ = _browse(workspace)
    seen = []
    browse.density_changed.connect(seen.append)
    browse.set_density(9)
    browse.set_density(0)
    browse.set_density(0)
    assert seen == [2, 0]


def test_a_refresh_keeps_the_rows_and_picks_until_the_new_count_and_drops_pages_asked_before_it(workspace):
    browse, jobs = _browse(workspace)
    browse.open(listing_set("Images", Listing(Modality.VISION)))
    jobs.finish()
    browse.item(0)
    jobs.finish()
    browse.picks.click(3)
    browse.refresh()
    assert browse.total == 25 and browse.item(0).name == "000.png" and browse.picks.rows() == [3]
    browse.item(12)  # asked for while the count runs: read as the set was, so dropped
    jobs.finish()
    assert browse.total == 25 and browse.picks.rows() == [3]  # the same count: the picks stay
    assert browse.item(12) is None
    jobs.finish()
    assert browse.item(12).name == "012.png"


def test_a_listing_shows_what_the_filters_let_through(workspace):
    from engine.workspace import Filter

    jobs = Jobs()
    chosen = {"filter": Filter(glob="*/01?.png")}
    browse = Browse(lambda: workspace, jobs, page=10, filters=lambda: chosen["filter"])
    browse.open(listing_set("Photos", Listing(Modality.VISION)))
    jobs.finish()
    assert browse.total == 10
    browse.item(0)
    jobs.finish()
    assert browse.item(9).name == "019.png"
    browse.picks.click(4)
    chosen["filter"] = None
    browse.refilter()
    assert browse.total == 0 and browse.picks.rows() == []  # another set: read from its top
    jobs.finish()
    assert browse.total == 25


def test_an_action_on_more_picks_than_it_reads_says_how_many_it_used(workspace, monkeypatch):
    monkeypatch.setattr("app.state.browse.MOST_PICKED", 3)
    ids = [item.id for item in workspace.listing(limit=100)]
    browse, jobs = _browse(workspace, page=4)
    browse.open(chosen_set("Map selection", ids))
    jobs.finish()
    browse.picks.click(0)
    browse.picks.click(3, shift=True)
    assert browse.picked_note() == " (the first 3 of 4 picked)"
    got = []
    browse.picked(got.append)
    jobs.finish()
    assert len(got[0]) == 3
    browse.picks.click(5)
    assert browse.picked_note() == ""
