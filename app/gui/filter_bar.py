"""The filter bar: one compact row (a toolbar) over the session's ``Filters`` — folder or pattern, date range, kind,
minimum score, clear. It edits the filters and shows them; it holds no state of its own. On a narrow window the
controls that do not fit go to the toolbar's overflow menu, so the bar never widens the window."""

from __future__ import annotations

import os
from datetime import datetime

from PySide6.QtCore import QDate, QEvent, QObject
from PySide6.QtWidgets import QComboBox, QDateEdit, QDoubleSpinBox, QFileDialog, QLabel, QLineEdit, QToolBar

from app.state.session import Session
from engine.modality import Modality

NO_DATE = QDate(1970, 1, 1)  # the date edits' "any date"
NO_SCORE = -1.0  # every score is at least -1: the spin box's "any score"
GLOB_CHARACTERS = set("*?[")


class FilterBar(QToolBar):
    def __init__(self, session: Session):
        super().__init__("Filters")
        self.setObjectName("filters")  # the window's saved layout names its toolbars
        self.setMovable(False)
        self.session, self.filters = session, session.filters
        self._pages: dict[QObject, QDate] = {}  # each date edit's calendar -> the day it opens at when "any date"
        self.addWidget(QLabel(" Filter: "))
        self.where = QLineEdit(placeholderText="Folder or pattern (*.wav)", clearButtonEnabled=True)
        self.where.setMinimumWidth(110)
        self.where.setMaximumWidth(360)
        self.where.setToolTip("Only items under this folder, or whose path matches a pattern such as *.wav or 2021/*")
        self.where.editingFinished.connect(self._where_edited)
        self.addWidget(self.where)
        self.addAction("Folder…", self._choose_folder).setToolTip("Only items under a folder you choose")
        self.since = self._date_edit("From any date", "Only files modified on or after this day")
        self.until = self._date_edit("To any date", "Only files modified on or before this day")
        self.kind = QComboBox()
        self.kind.addItem("Any kind", None)
        for modality in Modality:
            self.kind.addItem(modality.value.capitalize(), modality.value)
        self.kind.setToolTip("Only items of this modality (search, browse and the map)")
        self.kind.currentIndexChanged.connect(self._kind_chosen)
        self.addWidget(self.kind)
        self.score = QDoubleSpinBox(minimum=NO_SCORE, maximum=1.0, singleStep=0.05, decimals=2)
        self.score.setSpecialValueText("Any score")
        self.score.setPrefix("Score ≥ ")
        self.score.setToolTip("Only results scoring at least this (cosine similarity)")
        self.score.valueChanged.connect(self._score_changed)
        self.addWidget(self.score)
        self.clear_action = self.addAction("Clear", self._clear)
        self.clear_action.setToolTip("Show everything again")
        self.filters.changed.connect(lambda _: self.show_filters())
        session.library_changed.connect(self._library_dates)
        self._library_dates(session.summary)
        self.show_filters()

    def _date_edit(self, empty_text: str, tip: str) -> QDateEdit:
        edit = QDateEdit(calendarPopup=True, displayFormat="yyyy-MM-dd")
        edit.setMinimumDate(NO_DATE)
        edit.setSpecialValueText(empty_text)
        edit.setToolTip(tip)
        edit.dateChanged.connect(self._dates_changed)
        edit.calendarWidget().installEventFilter(self)
        self.addWidget(edit)
        return edit

    def _library_dates(self, summary) -> None:
        """ "From" opens at the oldest item's month and "To" at the newest's (today with no library or dates)."""
        dates = getattr(summary, "dates", None)
        oldest, newest = (_day(d, 0) for d in dates) if dates else (QDate.currentDate(), QDate.currentDate())
        self._pages = {self.since.calendarWidget(): oldest, self.until.calendarWidget(): newest}

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A calendar shown for "any date" turns to the library's dates instead of January 1970."""
        if event.type() == QEvent.Type.Show and watched in self._pages and watched.selectedDate() == NO_DATE:
            day = self._pages[watched]
            watched.setCurrentPage(day.year(), day.month())
        return super().eventFilter(watched, event)

    # -- what the person changes ------------------------------------------------------------------

    def _apply(self, **changes) -> None:
        try:
            self.filters.set(**changes)
        except ValueError as error:
            self.session.fail(f"Filter not applied: {error}")
            self.show_filters()

    def _clear(self) -> None:
        self.where.setModified(False)
        self.filters.clear()

    def _where_edited(self) -> None:
        self.where.setModified(False)
        text = self.where.text().strip()
        if GLOB_CHARACTERS & set(text):
            self._apply(glob=text, under=None)
        else:
            self._apply(under=os.path.realpath(os.path.expanduser(text)) if text else None, glob=None)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Only items under this folder", self.filters.value.under or "")
        if folder:
            self._apply(under=os.path.realpath(folder), glob=None)

    def _dates_changed(self) -> None:
        since, until = self.since.date(), self.until.date()
        self._apply(
            since=None if since == NO_DATE else _seconds(since),
            until=None if until == NO_DATE else _seconds(until.addDays(1)),  # the whole day chosen
        )

    def _kind_chosen(self) -> None:
        modality = self.kind.currentData()
        self._apply(modalities=(modality,) if modality is not None else ())

    def _score_changed(self, value: float) -> None:
        self._apply(min_score=None if value <= NO_SCORE else round(value, 2))

    # -- what the filters are -----------------------------------------------------------------------

    def show_filters(self) -> None:
        """The controls as the filters stand (after a clear, a refusal or a change made elsewhere)."""
        value = self.filters.value
        widgets = (self.where, self.since, self.until, self.kind, self.score)
        for widget in widgets:
            widget.blockSignals(True)
        try:
            if not self.where.isModified():  # a folder being typed stays until it is committed
                self.where.setText(value.glob or value.under or "")
            self.since.setDate(_day(value.since, 0) if value.since is not None else NO_DATE)
            self.until.setDate(_day(value.until, -1) if value.until is not None else NO_DATE)
            index = self.kind.findData(value.modalities[0].value) if len(value.modalities) == 1 else 0
            self.kind.setCurrentIndex(max(index, 0))
            self.score.setValue(value.min_score if value.min_score is not None else NO_SCORE)
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self.clear_action.setEnabled(self.filters.active)
        self.setToolTip(self.filters.describe())


def _seconds(day: QDate) -> float:
    """Local midnight at the start of ``day``, as epoch seconds (file times are compared with it)."""
    return float(day.startOfDay().toSecsSinceEpoch())


def _day(seconds: float, shift: int) -> QDate:
    """The local day of ``seconds``, moved by ``shift`` days when it is a midnight (an end is the next day's start)."""
    moment = datetime.fromtimestamp(seconds)
    day = QDate(moment.year, moment.month, moment.day)
    return (
        day.addDays(shift) if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0) else day
    )
