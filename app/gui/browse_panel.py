"""The Browse tab: the set's title and size, sort, density, grid or list, and what to do with the picked cards
(add to the query, copy their paths, export them); Enter, Space or a double click opens the large preview.

``attach_browse`` puts it beside the results and connects what opens a set: a library tree node,
a map selection, the results themselves.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QTabWidget, QToolButton, QVBoxLayout, QWidget
from superqt import QElidingLabel

from app.gui.browse_view import BrowseGrid, BrowseModel
from app.gui.large_preview import LargePreview
from app.state.browse import DENSITIES, Browse, chosen_set, listing_set, paths_text, query_term, results_set
from app.state.jobs import Lane

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow

_ORDERS = (("score", True), ("path", False), ("path", True), ("date", True), ("date", False))
_ORDER_TEXT = {
    ("score", True): "Best score first",
    ("path", False): "Path A→Z",
    ("path", True): "Path Z→A",
    ("date", True): "Newest first",
    ("date", False): "Oldest first",
}


class BrowsePanel(QWidget):
    def __init__(self, browse: Browse, window: MainWindow, parent=None):
        super().__init__(parent)
        self.browse = browse
        self.window_ = window
        self.model = BrowseModel(browse, window.previews, self)
        self.grid = BrowseGrid(self.model)
        self.grid.on_preview = self.preview
        self.grid.on_copy = self.copy_paths
        self.large = LargePreview(self)
        self.large.step.connect(self._step)
        self.large.wantsScores.connect(window.moment_scores)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.title = QElidingLabel("Browse")
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top.addWidget(self.title, 1)
        self.order = self._combo("The order of the cards")
        self.order.activated.connect(lambda n: self.browse.set_sort(*self.order.itemData(n)))
        top.addWidget(self.order)
        self.density = self._combo("How large the cards are")
        for name, side in DENSITIES:
            self.density.addItem(name, side)
        self.density.setCurrentIndex(browse.density)
        self.density.activated.connect(self.browse.set_density)
        top.addWidget(self.density)
        self.as_list = QToolButton()
        self.as_list.setText("List")
        self.as_list.setCheckable(True)
        self.as_list.setToolTip("Show the cards as a list with their paths")
        self.as_list.toggled.connect(self.grid.set_list_mode)
        top.addWidget(self.as_list)
        layout.addLayout(top)
        actions = QHBoxLayout()
        self.picked = QLabel()
        actions.addWidget(self.picked, 1)
        self.add_button = self._button(
            "Add to query", "Add the picked cards to the query (many: as one term)", self.add
        )
        self.copy_button = self._button("Copy paths", "Copy the picked cards' paths (Ctrl+C)", self.copy_paths)
        self.export_button = self._button("Export…", "Save the picked cards as CSV or JSON", self.export)
        for button in (self.add_button, self.copy_button, self.export_button):
            actions.addWidget(button)
        layout.addLayout(actions)
        layout.addWidget(self.grid, 1)
        self._shown = None  # the set last shown
        browse.opened.connect(self._opened)
        browse.picks.changed.connect(self._picked)
        self._opened()

    @staticmethod
    def _combo(tip: str) -> QComboBox:
        combo = QComboBox()
        combo.setToolTip(tip)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        return combo

    @staticmethod
    def _button(text: str, tip: str, handler) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(handler)
        return button

    def _opened(self) -> None:
        chosen = self.browse.set
        if chosen is None:
            self.title.setText("Browse: click a folder or modality in the library, or a map selection")
            self.order.clear()
        else:
            self.title.setText(f"{chosen.title} — {self.browse.total:,} items")
            if chosen is not self._shown:  # a new set starts at its top; the same set read again keeps its place
                self.grid.verticalScrollBar().setValue(0)
            self.title.setToolTip(self.title.text())
            self.order.clear()
            orders = [order for order in _ORDERS if order[0] in chosen.sorts]
            for order in orders:
                self.order.addItem(_ORDER_TEXT[order], order)
            current = (self.browse.sort, self.browse.descending)  # not findData: it compares tuples by identity
            self.order.setCurrentIndex(orders.index(current) if current in orders else 0)
        self._shown = chosen
        self._picked()

    def _picked(self) -> None:
        count = self.browse.picks.count
        self.picked.setText(f"{count:,} picked" if count > 1 else "")
        for button in (self.add_button, self.copy_button, self.export_button):
            button.setEnabled(count > 0)

    # -- the large preview ------------------------------------------------------------------------

    def preview(self, row: int) -> None:
        item = self.browse.item(row)
        if item is not None:
            self.large.show_item(item, self.browse.score(item))

    def _step(self, step: int) -> None:
        self.browse.picks.move("right" if step > 0 else "left")
        self.preview(self.browse.picks.current)

    # -- the picked cards -------------------------------------------------------------------------

    def add(self) -> None:
        note = self.browse.picked_note()

        def done(items) -> None:
            term = query_term(items)
            if term is not None:
                self.window_.query.add(term)
                self.window_.say(f"Added {term.name} to the query{note}")

        self.browse.picked(done)

    def copy_paths(self) -> None:
        note = self.browse.picked_note()

        def done(items) -> None:
            QGuiApplication.clipboard().setText(paths_text(items))
            self.window_.say(
                f"Copied {len(items):,} paths{note}" if len(items) != 1 else f"Copied the path of {items[0].name}"
            )

        self.browse.picked(done)

    def export(self) -> None:
        note = self.browse.picked_note()
        self.browse.picked(
            lambda items: self.export_cards([(item, self.browse.score(item)) for item in items], f"items{note}")
        )

    def export_cards(self, cards: list, noun: str = "items") -> None:
        """Save (item, score) cards as CSV or JSON, with the query when they are results."""
        scored = any(not math.isnan(score) for _, score in cards)
        terms = self.window_.query.terms if scored else ()
        self.window_.export_cards(cards, terms, "Export the picked items", "items.csv", noun, "export-picked")


def attach_browse(window: MainWindow) -> BrowsePanel:
    """Put Browse in a tab beside the results, and open sets from the library tree, the map and the results."""
    serial = itertools.count()

    def run(work, done) -> None:  # each page its own slot: a page asked for never replaces another
        window._run(
            f"browse-{next(serial)}", lambda job: work(), "", done, window._failed("read the library"), Lane.PAGES
        )

    browse = Browse(lambda: window.workspace, run, filters=lambda: window.session.filters.value)
    panel = BrowsePanel(browse, window)
    tabs = QTabWidget()
    tabs.setDocumentMode(True)  # no frame: the composer above keeps its height at 720 pixels
    window.splitter.replaceWidget(window.splitter.indexOf(window.results), tabs)
    tabs.addTab(window.results, "Results")
    tabs.addTab(panel, "Browse")
    window.result_tabs = tabs

    def show(chosen) -> None:
        browse.open(chosen)
        tabs.setCurrentWidget(panel)
        panel.grid.setFocus()

    window.library_panel.browse.connect(lambda title, listing: show(listing_set(title, listing)))
    window.map_view.filterToSelection.connect(lambda ids: show(chosen_set("Map selection", ids)))
    window.results.exportPicked.connect(panel.export_cards)
    window.session.results_changed.connect(panel.large.rescore)  # its score strip follows the query
    window.results.browseResults.connect(
        lambda: window.outcome is not None and show(results_set(window.session.results_title, window.outcome.cards()))
    )
    seen = {"folder": None, "generation": None}

    def library_changed(summary) -> None:
        """Another library: browse nothing; this one changed: read the set again."""
        if summary.folder != seen["folder"]:
            browse.clear()
        elif summary.generation != seen["generation"]:
            browse.refresh()
        seen.update(folder=summary.folder, generation=summary.generation)

    window.session.library_changed.connect(library_changed)
    window.session.filters.changed.connect(lambda *_: browse.refilter())
    return panel
