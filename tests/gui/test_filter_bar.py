"""The filter bar edits the session's filters and shows them; in the window, a change re-runs the search and the
map shows only what passes."""

from __future__ import annotations

import os
from datetime import datetime

from PySide6.QtCore import QDate

from app.gui.filter_bar import NO_DATE, FilterBar
from app.state.session import Session
from engine.modality import Modality
from engine.workspace import Filter
from tests.gui.conftest import ENGINE_TIMEOUT_MS, settle


def midnight(day: QDate) -> float:
    return datetime(day.year(), day.month(), day.day()).timestamp()


def test_the_bar_sets_each_condition_and_shows_a_clear(qtbot):
    session = Session()
    bar = FilterBar(session)
    qtbot.addWidget(bar)
    bar.where.setText("*.wav")
    bar.where.editingFinished.emit()
    assert session.filters.value == Filter(glob="*.wav")
    bar.where.setText("~/photos")
    bar.where.editingFinished.emit()
    assert session.filters.value == Filter(under=os.path.realpath(os.path.expanduser("~/photos")))
    bar.since.setDate(QDate(2024, 5, 1))
    bar.until.setDate(QDate(2024, 5, 31))  # the whole last day: up to the next midnight
    bar.kind.setCurrentIndex(bar.kind.findData(Modality.AUDIO.value))
    bar.score.setValue(0.25)
    assert session.filters.value == Filter(
        os.path.realpath(os.path.expanduser("~/photos")),
        None,
        midnight(QDate(2024, 5, 1)),
        midnight(QDate(2024, 6, 1)),
        (Modality.AUDIO,),
        0.25,
    )
    assert bar.clear_action.isEnabled() and "audio" in bar.toolTip()
    bar.clear_action.trigger()
    assert session.filters.value == Filter() and not bar.clear_action.isEnabled()
    assert (bar.where.text(), bar.since.date(), bar.kind.currentData(), bar.score.text()) == (
        "",
        NO_DATE,
        None,
        "Any score",
    )


def test_dates_that_cross_are_refused_with_the_reason_and_the_bar_shows_what_holds(qtbot):
    session = Session()
    bar = FilterBar(session)
    qtbot.addWidget(bar)
    bar.until.setDate(QDate(2024, 5, 1))
    bar.since.setDate(QDate(2024, 6, 1))
    assert session.filters.value == Filter(until=midnight(QDate(2024, 5, 2)))
    assert "start date is after the end date" in session.message
    assert bar.since.date() == NO_DATE and bar.until.date() == QDate(2024, 5, 1)


def test_a_folder_filter_in_the_window_re_runs_the_search(qtbot, make_window, indexed_library, indexed_data):
    window = make_window(indexed_library)
    window.composer.add_text("a dog barking")
    qtbot.waitUntil(lambda: bool(window.results.cards), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    assert {c.item.modality for c in window.results.cards} != {Modality.AUDIO}
    audio = os.path.realpath(indexed_data / "audio")
    window.filter_bar.where.setText(audio)
    window.filter_bar.where.editingFinished.emit()
    qtbot.waitUntil(
        lambda: {c.item.modality for c in window.results.cards} == {Modality.AUDIO}, timeout=ENGINE_TIMEOUT_MS
    )
    settle(qtbot, window)
    assert all(c.item.path.startswith(audio + os.sep) for c in window.results.cards)
    everything = window.map_data.projection
    shown = window.map_view.data.projection
    assert set(shown.modalities.tolist()) == {"audio"} and 0 < len(shown) < len(everything)
    window.filter_bar.where.setText(os.path.realpath(indexed_data / "nothing-here"))
    window.filter_bar.where.editingFinished.emit()
    qtbot.waitUntil(lambda: "No items pass the filters" in window.results.empty.text(), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    assert len(window.map_view.data.projection) == 0 and "passes the filters" in window.map_view.empty.text()
    window.filter_bar.clear_action.trigger()
    settle(qtbot, window)
    assert window.map_view.data is window.map_data


def test_a_folder_being_typed_survives_a_change_of_another_control(qtbot):
    session = Session()
    bar = FilterBar(session)
    qtbot.addWidget(bar)
    qtbot.keyClicks(bar.where, "/media/archive")
    bar.score.setValue(0.3)
    assert bar.where.text() == "/media/archive" and session.filters.value == Filter(min_score=0.3)
    bar.where.editingFinished.emit()
    assert session.filters.value == Filter(under="/media/archive", min_score=0.3)
    qtbot.keyClicks(bar.where, "/x")
    bar.clear_action.trigger()
    assert bar.where.text() == "" and session.filters.value == Filter()


def test_an_empty_date_opens_its_calendar_at_the_library_dates_not_1970(qtbot):
    from types import SimpleNamespace

    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    session = Session()
    bar = FilterBar(session)
    qtbot.addWidget(bar)
    bar.show()
    oldest, newest = datetime(2019, 3, 14, 12).timestamp(), datetime(2023, 8, 2, 9).timestamp()
    session.show_summary(SimpleNamespace(saved_queries={}, dates=(oldest, newest)))
    for edit, (year, month) in ((bar.since, (2019, 3)), (bar.until, (2023, 8))):
        QTest.mouseClick(edit, Qt.MouseButton.LeftButton, pos=QPoint(edit.width() - 4, edit.height() // 2))
        calendar = edit.calendarWidget()
        qtbot.waitUntil(calendar.isVisible)
        assert (calendar.yearShown(), calendar.monthShown()) == (year, month)
        calendar.window().hide()
    assert session.filters.value == Filter()
    bar.since.setDate(QDate(2021, 1, 5))  # a chosen date opens at itself
    QTest.mouseClick(bar.since, Qt.MouseButton.LeftButton, pos=QPoint(bar.since.width() - 4, bar.since.height() // 2))
    assert (bar.since.calendarWidget().yearShown(), bar.since.calendarWidget().monthShown()) == (2021, 1)
