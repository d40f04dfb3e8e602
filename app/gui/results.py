"""The results grid: a card per nearest item (or moment: a window of a long recording, with its time span), with a
real preview, its score and what you can do with it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel

from app.colours import MODALITY_COLOURS
from app.gui.keys import move_of, wants_preview
from app.gui.large_preview import LargePreview, is_video
from app.gui.preview_view import PreviewView
from app.gui.previews import Preview, PreviewLoader
from app.state.browse import paths_text
from app.state.picks import Picks
from app.state.query import QueryTerm, item_term, moment_term
from app.timecode import clock, span
from engine.modality import Modality

if TYPE_CHECKING:
    from engine.workspace import Item, Moment

CARD_WIDTH = 200
_CARD_STYLE = (
    '#card[picked="true"] { background: palette(highlight); }'
    '#card[picked="true"] QLabel { color: palette(highlighted-text); }'
    '#card[current="true"] { border: 2px solid palette(highlight); }'
)


def reveal_in_folder(path: str) -> str:
    """Open the file's folder in the system file manager; what happened, for the status bar."""
    folder = Path(path).parent
    if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
        return f"Opened {folder} in the file manager"
    return f"No file manager opens folders on this system: the file is in {folder}"


def open_file(path: str) -> str:
    """Open the file in the application the system has for it; what happened, for the status bar."""
    if QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
        return f"Opened {Path(path).name}"
    return f"No application opens {Path(path).name} on this system (its path is in the card's menu: Copy path)"


def copy_to_clipboard(text: str, what: str) -> str:
    QGuiApplication.clipboard().setText(text)
    return f"Copied {what}"


class Card(QFrame):
    useAsQuery = Signal(object)  # QueryTerm: the item, or the card's moment
    addToQuery = Signal(object)
    pressed = Signal(object, bool, bool)  # the card, Ctrl held, Shift held
    opened = Signal(object)  # double-clicked: the large preview
    showOnMap = Signal(object)
    play = Signal(object, float)  # the card, from what time (seconds)
    message = Signal(str)  # what an action did, for the status bar

    def __init__(
        self,
        item: Item,
        score: float,
        rank: int,
        previews: PreviewLoader,
        offline: bool = False,
        parent: QWidget | None = None,
        moment: tuple[float, float] | None = None,
        best: bool = False,
        tops: list[Moment] | None = None,
    ):
        super().__init__(parent)
        self.item = item
        self.score = score
        self.offline = offline
        self.best = best
        self.moment = moment  # (start, end) in seconds: the card's window of the file (``best``: the file's best)
        self.setObjectName("card")
        self.setStyleSheet(_CARD_STYLE)
        self.picked_menu: QMenu | None = None  # the panel's actions on several picked cards
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(CARD_WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(3)
        self.preview = PreviewView(QSize(CARD_WIDTH - 12, 132))
        self.preview.set_span(moment)
        layout.addWidget(self.preview)
        header = QHBoxLayout()
        badge = QLabel(
            f"<span style='color:{MODALITY_COLOURS[self.item.modality]}'>●</span> {self.item.modality.label}"
        )
        header.addWidget(badge)
        if offline:
            state = QLabel("<small>offline</small>")
            state.setToolTip("The file's folder is not reachable now (a drive not mounted?); its embedding is kept")
            header.addWidget(state)
        header.addStretch(1)
        score = QLabel("" if math.isnan(score) else f"<b>{score:.3f}</b>")
        score.setToolTip("Cosine similarity to the query")
        header.addWidget(score)
        layout.addLayout(header)
        name = QLabel(f"{rank}. {self.item.name}")
        name.setToolTip(self.item.path or self.item.text or "")
        name.setWordWrap(False)
        name.setMaximumWidth(CARD_WIDTH - 12)
        layout.addWidget(name)
        video = is_video(self.item)
        playable = not offline and (self.item.modality is Modality.AUDIO or video)
        if moment is not None:
            self.when = QLabel(f"<small>{'best at' if best else 'at'} {span(*moment)}</small>")
            self.when.setToolTip(f"Where in {self.item.name} the query matches: {moment[0]:g} s to {moment[1]:g} s")
            when = QHBoxLayout()
            when.addWidget(self.when)
            if best and tops:
                self.moments_button = QToolButton()
                self.moments_button.setText("▾")  # beside the time, even an hour's, in a card's width
                self.moments_button.setAutoRaise(True)
                self.moments_button.setStyleSheet("QToolButton::menu-indicator { image: none; }")
                self.moments_button.setToolTip(
                    f"The {len(tops)} top moments of {self.item.name} for this query: play one or search by it"
                )
                self.moments_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
                self.moments_button.setMenu(self._moments_menu(tops, playable))
                when.addWidget(self.moments_button)
            when.addStretch(1)
            layout.addLayout(when)
        actions = QHBoxLayout()
        if playable:
            what = "video" if video else "sound"
            self.play_button = QToolButton()
            self.play_button.setText("▶ Play" if moment is None else f"▶ {clock(moment[0])}")
            self.play_button.setToolTip(f"Play the {what}" if moment is None else f"Play the {what} from this moment")
            self.play_button.clicked.connect(lambda: self.play.emit(self, moment[0] if moment is not None else 0.0))
            actions.addWidget(self.play_button)
        self.use_button = QToolButton()
        self.use_button.setText("As query" if playable else "Use as query")
        self.use_button.setToolTip("Use as query: search by this item (replaces the query)")
        if moment is not None and not best:
            self.use_button.setToolTip(f"Search by this moment alone ({span(*moment)}), not the whole file")
        self.use_button.clicked.connect(lambda: self.useAsQuery.emit(self.term()))
        actions.addWidget(self.use_button)
        more = QToolButton()
        more.setText("⋯")
        more.setToolTip("More actions")
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        more.setMenu(self._menu())
        actions.addWidget(more)
        actions.addStretch(1)
        layout.addLayout(actions)
        self._key = previews.key(self.item.source, self.item.modality)
        if offline:  # nothing to read: say so rather than report a missing file as broken
            self.preview.set_preview(Preview(self.item.modality, error="offline: the file is not reachable now"))
            return
        cached = previews.request(self.item.source, self.item.modality)
        if cached is not None:
            self.preview.set_preview(cached)
        previews.ready.connect(self._on_preview)

    def term(self) -> QueryTerm:
        """What this card adds to a query: its moment's window on a moment card, else the whole item (a file
        hit's best window only marks where it matches)."""
        item = self.item
        if self.moment is not None and not self.best:
            return moment_term(item.id, item.modality, item.name, item.source, *self.moment)
        return item_term(item.id, item.modality, item.name, item.source)

    def _moments_menu(self, tops: list[Moment], playable: bool) -> QMenu:
        """A file hit's top moments, best first, each to play from or search by (a moment term, as a moment card's)."""
        menu = QMenu(self)
        item = self.item
        for moment in tops:
            window = menu.addMenu(f"{span(moment.start, moment.end)}  ·  {moment.score:.3f}")
            term = moment_term(item.id, item.modality, item.name, item.source, moment.start, moment.end)
            if playable:
                window.addAction(f"▶ Play from {clock(moment.start)}").triggered.connect(
                    lambda *_, at=moment.start: self.play.emit(self, at)
                )
            window.addAction("Use as query").triggered.connect(lambda *_, t=term: self.useAsQuery.emit(t))
            window.addAction("Add to the query").triggered.connect(lambda *_, t=term: self.addToQuery.emit(t))
        return menu

    def _on_preview(self, key: str, preview: Preview) -> None:
        if key == self._key:
            self.preview.set_preview(preview)

    def _menu(self) -> QMenu:
        menu = QMenu(self)
        path = self.item.path

        def add(text: str, handler, enabled: bool = True) -> QAction:
            action = menu.addAction(text)
            action.triggered.connect(handler)
            action.setEnabled(enabled)
            return action

        readable = path is not None and not self.offline
        add("Open file", lambda: self.message.emit(open_file(path)), readable)
        add("Reveal in folder", lambda: self.message.emit(reveal_in_folder(path)), readable)
        menu.addSeparator()
        add("Use as query", lambda: self.useAsQuery.emit(self.term()))
        add("Add to the query", lambda: self.addToQuery.emit(self.term()))
        add("Show on map", lambda: self.showOnMap.emit(self.item))
        menu.addSeparator()
        if path:
            add("Copy path", lambda: self.message.emit(copy_to_clipboard(path, f"the path of {self.item.name}")))
        else:
            add("Copy text", lambda: self.message.emit(copy_to_clipboard(self.item.text or "", "the text")))
        return menu

    def contextMenuEvent(self, event) -> None:
        (self.picked_menu or self._menu()).exec(event.globalPos())

    def mousePressEvent(self, event) -> None:
        modifiers = event.modifiers()
        self.pressed.emit(
            self,
            bool(modifiers & Qt.KeyboardModifier.ControlModifier),
            bool(modifiers & Qt.KeyboardModifier.ShiftModifier),
        )
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.opened.emit(self)

    def show_picked(self, picked: bool, current: bool) -> None:
        """Drawn as picked (filled) and current (outlined), through the card's style sheet."""
        if (self.property("picked"), self.property("current")) != (picked, current):
            self.setProperty("picked", picked)
            self.setProperty("current", current)
            self.style().unpolish(self)
            self.style().polish(self)


class ResultsPanel(QWidget):
    """Modality filter, result count, and the reflowing grid of cards."""

    filtersChanged = Signal()
    message = Signal(str)
    useAsQuery = Signal(object)  # QueryTerm
    addToQuery = Signal(object)  # QueryTerm
    wantsScores = Signal(object, object)  # the large preview's: Item, the preview to answer
    showOnMap = Signal(object)
    play = Signal(object, float)  # a sound's card, from what time (seconds)
    browseResults = Signal()  # page through every result in Browse (sort, pick, preview)
    exportPicked = Signal(list)  # [(Item, score)] of the picked cards

    def __init__(self, previews: PreviewLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.previews = previews
        self.picks = Picks()
        self.picks.changed.connect(self._show_picks)
        self.large: LargePreview | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.cards: list[Card] = []
        self._headings: list[QLabel] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        # The header never sets the window's width: the title elides, the modalities are a menu.
        self.title = QElidingLabel("Results")
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setMinimumWidth(60)
        bar.addWidget(self.title, 1)
        self.search_in = QToolButton()
        self.search_in.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.search_in.setToolTip("Which modalities the results include")
        menu = QMenu(self.search_in)
        self.filters: dict[Modality, QAction] = {}
        for modality in Modality:
            action = menu.addAction(modality.label)
            action.setCheckable(True)
            action.setChecked(True)
            action.toggled.connect(self._filters_changed)
            self.filters[modality] = action
        self.search_in.setMenu(menu)
        self._show_filters()
        bar.addWidget(self.search_in)
        self.moments = QToolButton()
        self.moments.setText("Moments")
        self.moments.setCheckable(True)
        self.moments.setToolTip(
            "Find when: rank the windows of long audio, video and IMU recordings instead of whole files"
        )
        self.moments.toggled.connect(lambda *_: self.filtersChanged.emit())
        bar.addWidget(self.moments)
        bar.addWidget(QLabel("Show"))
        self.count = QSpinBox()
        self.count.setRange(1, 100)
        self.count.setValue(4)
        self.count.setSuffix(" per modality")
        self.count.setToolTip("How many of the nearest items to show for each modality")
        self.count.valueChanged.connect(lambda *_: self.filtersChanged.emit())
        bar.addWidget(self.count)
        self.browse_button = QToolButton()
        self.browse_button.setText("Browse")
        self.browse_button.setToolTip("Page through these results in the Browse tab: sort, pick several, preview")
        self.browse_button.clicked.connect(self.browseResults)
        bar.addWidget(self.browse_button)
        layout.addLayout(bar)
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty_action = QPushButton()
        self.empty_action.hide()
        self._empty_handler = None
        self.empty_action.clicked.connect(lambda: self._empty_handler and self._empty_handler())
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.grid.setSpacing(8)
        scroll = QScrollArea()
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the panel takes the keys: arrows walk the cards
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_host)
        self.scroll = scroll
        layout.addWidget(self.empty)
        layout.addWidget(self.empty_action, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(scroll, 1)
        self.show_message("Drop a file on a pane above, or type a text, to find its nearest neighbours in the library.")

    def _filters_changed(self) -> None:
        self._show_filters()
        self.filtersChanged.emit()

    def _show_filters(self) -> None:
        chosen = self.modalities()
        if len(chosen) == len(self.filters):
            text = "Search in: all"
        elif len(chosen) <= 2:
            text = "Search in: " + ", ".join(m.label for m in chosen) if chosen else "Search in: none"
        else:
            text = f"Search in: {len(chosen)} of {len(self.filters)}"
        self.search_in.setText(text + " ▾")

    def modalities(self) -> list[Modality]:
        return [m for m, box in self.filters.items() if box.isChecked()]

    def show_message(self, text: str, action_text: str | None = None, action=None) -> None:
        """An empty state: what to do next, with an optional button that does it."""
        self.set_cards([])
        self.empty.setText(text)
        self.empty.show()
        self._empty_handler = action
        self.empty_action.setText(action_text or "")
        self.empty_action.setVisible(action is not None)

    def set_cards(
        self,
        cards: list[tuple[Item, float]],
        title: str = "Results",
        offline: set[int] = frozenset(),
        moments: list[tuple[float, float] | None] | None = None,
        best: bool = False,
        tops: list[list[Moment]] | None = None,
    ) -> None:
        """Show (item, score) cards grouped by modality, in the order given, each group under its own heading
        (a score of NaN shows none: a map selection); ``moments`` gives each card's window (start, end) or None,
        the best window of a file hit when ``best``; ``tops``, each file hit's top moments (its moments menu)."""
        for widget in self.cards + self._headings:
            widget.setParent(None)
            widget.deleteLater()
        self.cards, self._headings = [], []
        for rank, (item, score) in enumerate(cards, start=1):
            moment = moments[rank - 1] if moments is not None else None
            top = tops[rank - 1] if tops is not None else None
            card = Card(item, score, rank, self.previews, item.id in offline, moment=moment, best=best, tops=top)
            card.useAsQuery.connect(self.useAsQuery)
            card.addToQuery.connect(self.addToQuery)
            card.showOnMap.connect(self.showOnMap)
            card.play.connect(self._play)
            card.message.connect(self.message)
            card.pressed.connect(self._pressed)
            card.opened.connect(lambda card: self.preview(self.cards.index(card)))
            self.cards.append(card)
        self.picks.reset(len(self.cards))
        if self.large is not None:
            self.large.rescore()
        self.title.setText(f"{title} ({len(cards)})" if cards else title)
        self.title.setToolTip(self.title.text())
        self.empty.setVisible(not cards)
        if cards:
            self.empty_action.hide()
        self._reflow()
        self.scroll.verticalScrollBar().setValue(0)  # new results start at their best, not where the last ones were

    def _reflow(self) -> None:
        """Lay the cards out in rows as wide as the view, a heading row before each modality's group."""
        bar = self.scroll.verticalScrollBar()  # kept free when hidden: the rows will need it as they grow
        margins, gap = self.grid.contentsMargins(), self.grid.horizontalSpacing()
        width = self.scroll.viewport().width() - (0 if bar.isVisible() else bar.sizeHint().width())
        columns = max(1, (width - margins.left() - margins.right() + gap) // (CARD_WIDTH + gap))
        for heading in self._headings:
            heading.setParent(None)
            heading.deleteLater()
        self._headings = []
        row, column, current = -1, columns, None
        for card in self.cards:
            if card.item.modality is not current:
                current = card.item.modality
                count = sum(1 for c in self.cards if c.item.modality is current)
                noun = "best moments" if card.moment is not None and not card.best else "nearest"
                heading = QLabel(
                    f"<span style='color:{MODALITY_COLOURS[current]}'>●</span> <b>{current.label}</b> — {count} {noun}"
                )
                self._headings.append(heading)
                row, column = row + 1, 0
                self.grid.addWidget(heading, row, 0, 1, columns)
                row += 1
            elif column == columns:
                row, column = row + 1, 0
            self.grid.addWidget(card, row, column)
            column += 1

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._reflow()

    # -- keys, picks and the large preview ---------------------------------------------------------

    def _pressed(self, card: Card, ctrl: bool, shift: bool) -> None:
        self.setFocus()
        self.picks.click(self.cards.index(card), ctrl, shift)

    def keyPressEvent(self, event) -> None:
        move = move_of(event)
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if move in ("up", "down", "page_up", "page_down") and self.cards:
            rows = 1 if move in ("up", "down") else max(1, self.scroll.viewport().height() // 260)
            self.picks.click(self._vertical(self.picks.current, rows * (1 if "down" in move else -1)), shift=shift)
        elif move is not None:
            self.picks.move(move, shift=shift)
        elif wants_preview(event) and self.picks.current >= 0:
            self.preview(self.picks.current)
        elif event.matches(QKeySequence.StandardKey.Copy) and self.picks.count:
            self._copy_picked()
        else:
            super().keyPressEvent(event)

    def _vertical(self, index: int, rows: int) -> int:
        """The card ``rows`` card rows below (or above) ``index`` in the laid-out grid, nearest in column."""
        if index < 0:
            return 0
        places = [self.grid.getItemPosition(self.grid.indexOf(card))[:2] for card in self.cards]
        lines = sorted({row for row, _ in places})
        here_row, here_column = places[index]
        target = lines[min(max(lines.index(here_row) + rows, 0), len(lines) - 1)]
        in_line = [(abs(column - here_column), n) for n, (row, column) in enumerate(places) if row == target]
        return min(in_line)[1]

    def _show_picks(self) -> None:
        for n, card in enumerate(self.cards):
            card.show_picked(n in self.picks.selected, n == self.picks.current)
            several = self.picks.count > 1 and n in self.picks.selected
            card.picked_menu = self._picked_menu(card) if several else None
        if 0 <= self.picks.current < len(self.cards):
            self.scroll.ensureWidgetVisible(self.cards[self.picks.current], 8, 8)

    def _picked(self) -> list[Card]:
        return [self.cards[n] for n in self.picks.rows()]

    def _picked_menu(self, card: Card) -> QMenu:
        menu = QMenu(card)
        count = self.picks.count
        menu.addAction(f"Add the {count} picked to the query").triggered.connect(
            lambda: [self.addToQuery.emit(c.term()) for c in self._picked()]
        )
        menu.addAction(f"Copy the {count} picked paths").triggered.connect(self._copy_picked)
        menu.addAction(f"Export the {count} picked…").triggered.connect(
            lambda: self.exportPicked.emit([(c.item, c.score) for c in self._picked()])
        )
        return menu

    def _copy_picked(self) -> None:
        items = [card.item for card in self._picked()]
        self.message.emit(copy_to_clipboard(paths_text(items), f"{len(items)} paths" if len(items) > 1 else "the path"))

    def preview(self, index: int) -> None:
        if self.large is None:
            self.large = LargePreview(self)
            self.large.step.connect(self._step)
            self.large.wantsScores.connect(self.wantsScores)
        card = self.cards[index]
        self.large.show_item(card.item, card.score, card.offline, card.moment)

    def _play(self, card: Card, seconds: float) -> None:
        """A card's ▶ (or a moment of its menu): a video plays in the large preview; a sound in the window's player."""
        if not is_video(card.item):
            self.play.emit(card, seconds)
            return
        self.preview(self.cards.index(card))
        self.large.play_from(seconds)

    def _step(self, step: int) -> None:
        self.picks.move("right" if step > 0 else "left")
        self.preview(self.picks.current)
