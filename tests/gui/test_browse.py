"""The browse grid with real key and mouse events: a million rows paged lazily, the tree opening a set, the keys
walking it, the large preview, picks copied."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.gui.browse_view import BrowseGrid, BrowseModel
from app.gui.keys import ShortcutsDialog
from app.gui.previews import PreviewLoader
from app.state.browse import Browse, listing_set
from engine.modality import Modality
from engine.workspace import Item, Listing
from tests.gui.conftest import ENGINE_TIMEOUT_MS, settle


class MillionTexts:
    """A workspace's listing calls over a million text items, recording the pages read."""

    def __init__(self):
        self.pages = []

    def count(self, filter, within):
        return 1_000_000

    def listing(self, filter, order, offset, limit, within, descending):
        self.pages.append(offset)
        return [
            Item(n + 1, Modality.TEXT, None, f"text {n:07d}", f"h{n}", "embedded")
            for n in range(offset, offset + limit)
        ]


def test_a_million_rows_are_walked_by_keys_reading_only_the_pages_shown(qtbot):
    workspace = MillionTexts()
    browse = Browse(lambda: workspace, lambda work, done: done(work()))
    previews = PreviewLoader()
    grid = BrowseGrid(BrowseModel(browse, previews))
    qtbot.addWidget(grid)
    grid.resize(640, 400)
    grid.show()
    browse.open(listing_set("Texts", Listing(Modality.TEXT)))
    assert grid.model().rowCount() == 1_000_000
    qtbot.waitExposed(grid)
    grid.setFocus()
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    qtbot.keyClick(grid, Qt.Key.Key_Down)
    columns = grid.columns()
    assert columns > 1 and browse.picks.current == 1 + columns
    qtbot.keyClick(grid, Qt.Key.Key_End)
    qtbot.wait(20)
    assert browse.picks.current == 999_999 and grid.viewport().rect().contains(grid.visual_rect(999_999))
    assert browse.item(999_999).text == "text 0999999"
    assert len(workspace.pages) <= 6 and max(workspace.pages) >= 999_000  # the first and last screens only
    qtbot.keyClick(grid, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert browse.picks.rows() == [999_998, 999_999]
    previews.shutdown()


def test_the_tree_opens_a_set_that_keys_walk_preview_and_copy(qtbot, make_window, tmp_path):
    from tests.libraries import clustered, library_of

    modalities = ["vision"] * 12 + ["audio"] * 8
    library_of(tmp_path / "imported", clustered(20, 16), modalities).close()
    window = make_window(tmp_path / "imported" / "lib")
    tree = window.library_panel.tree
    node = tree.topLevelItem(0)
    images = next(node.child(n) for n in range(node.childCount()) if node.child(n).text(0) == "● Image")
    rect = tree.visualItemRect(images)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    panel = window.browse
    assert window.result_tabs.currentWidget() is panel
    qtbot.waitUntil(lambda: panel.browse.total == 12, timeout=ENGINE_TIMEOUT_MS)
    grid = panel.grid
    settle(qtbot, window)
    qtbot.waitUntil(lambda: panel.browse.item(0) is not None, timeout=ENGINE_TIMEOUT_MS)
    assert "Outside the folders · Image — 12 items" in panel.title.text()
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    assert panel.browse.picks.current == 1
    qtbot.keyClick(grid, Qt.Key.Key_Return)
    assert panel.large.isVisible() and panel.large.item.name == "0000001.vision"
    qtbot.keyClick(panel.large, Qt.Key.Key_Right)
    assert panel.large.item.name == "0000002.vision" and panel.browse.picks.current == 2
    qtbot.keyClick(panel.large, Qt.Key.Key_Space)
    assert not panel.large.isVisible()
    third = grid.visual_rect(5).center()
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, third)
    assert panel.browse.picks.rows() == [2, 3, 4, 5] and panel.picked.text() == "4 picked"
    qtbot.mouseClick(
        grid.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ControlModifier,
        grid.visual_rect(3).center(),
    )
    qtbot.keyClick(grid, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    copied = QGuiApplication.clipboard().text().splitlines()
    assert [line.rsplit("/", 1)[1] for line in copied] == ["0000002.vision", "0000004.vision", "0000005.vision"]
    panel.add_button.click()
    qtbot.waitUntil(lambda: bool(window.query.terms), timeout=ENGINE_TIMEOUT_MS)
    assert window.query.terms[-1].name == "Selection of 3 items"
    newest = next(n for n in range(panel.order.count()) if panel.order.itemText(n) == "Newest first")
    panel.order.activated.emit(newest)  # as a choice in the combo box
    window.session.filters.set(glob="*.vision")  # the set is read again, filtered
    qtbot.waitUntil(lambda: panel.browse.item(0) is not None, timeout=ENGINE_TIMEOUT_MS)
    assert (panel.browse.sort, panel.browse.descending) == ("date", True)
    assert panel.order.currentText() == "Newest first"  # it showed the first order whatever the sort was
    shortcuts = ShortcutsDialog(window.menuBar(), window)
    table = shortcuts.table
    rows = {table.item(n, 1).text(): table.item(n, 0).text() for n in range(table.rowCount())}
    assert "Help ▸ Keyboard shortcuts" in rows and "Query ▸ Back" in rows
    assert any(what.startswith("Results and browse: Open the large preview") for what in rows)


@pytest.fixture
def results_panel(qtbot):
    """The results panel on its own, shown, with its preview threads stopped afterwards."""
    from app.gui.results import ResultsPanel

    previews = PreviewLoader()
    panel = ResultsPanel(previews)
    qtbot.addWidget(panel)
    panel.show()
    yield panel
    previews.shutdown()


def text_cards(count: int) -> list[tuple[Item, float]]:
    return [(Item(n, Modality.TEXT, None, f"text {n}", f"t{n}", "embedded"), 0.9 - n / 100) for n in range(count)]


def test_results_are_walked_by_keys_across_modality_groups_and_picked_by_clicks(qtbot, results_panel):
    panel = results_panel
    panel.resize(700, 600)
    texts = text_cards(5)
    sounds = [(Item(10 + n, Modality.AUDIO, f"/gone/{n}.wav", None, f"a{n}", "embedded"), 0.3) for n in range(2)]
    panel.set_cards(texts + sounds, "Results")
    qtbot.waitExposed(panel)
    panel.setFocus()
    qtbot.keyClick(panel, Qt.Key.Key_Right)
    assert panel.picks.current == 0 and panel.cards[0].property("current")
    qtbot.keyClick(panel, Qt.Key.Key_Down)  # three cards a row: the text below, then the sounds' group
    assert panel.picks.current == 3
    qtbot.keyClick(panel, Qt.Key.Key_Down)
    assert panel.cards[panel.picks.current].item.modality is Modality.AUDIO
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    assert panel.large.isVisible() and panel.large.item.path == "/gone/0.wav"
    panel.large.close()
    qtbot.mouseClick(panel.cards[1], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.cards[3], Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier)
    assert panel.picks.rows() == [1, 2, 3] and panel.cards[2].property("picked")
    qtbot.keyClick(panel, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text().splitlines() == ["text 1", "text 2", "text 3"]


def test_new_results_start_at_the_top(qtbot, results_panel):
    panel = results_panel
    panel.resize(700, 500)
    texts = text_cards(24)
    panel.set_cards(texts, "Results")
    qtbot.waitExposed(panel)
    bar = panel.scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    bar.setValue(bar.maximum())
    panel.set_cards(list(reversed(texts)), "Results")
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    assert bar.value() == 0
    for width in range(640, 720, 4):  # whatever the width, the cards fit beside the scroll bar
        panel.resize(width, 500)
        qtbot.wait(10)
        assert not panel.scroll.horizontalScrollBar().isVisible(), width


def test_large_cards_decode_pictures_at_their_own_size_and_smaller_ones_keep_the_thumbnail(qtbot, tmp_path):
    from app.state.browse import results_set
    from engine.workspace import THUMBNAIL
    from tests.files import write_image

    photo = Item(1, Modality.VISION, str(write_image(tmp_path / "wide.png", 1200, 900)), None, "h1", "embedded")
    sound = Item(2, Modality.AUDIO, str(tmp_path / "a.wav"), None, "h2", "embedded")
    browse = Browse(lambda: None, lambda work, done: done(work()))
    previews = PreviewLoader()
    model = BrowseModel(browse, previews)
    browse.open(results_set("Two", [(photo, 0.5), (sound, 0.4)]))
    sizes = {}
    for density in (1, 2):
        browse.set_density(density)
        assert model.thumbnail(0, photo) is None  # asked of the pool
        qtbot.waitUntil(lambda: model.thumbnail(0, photo) is not None, timeout=ENGINE_TIMEOUT_MS)
        size = model.preview_size(model.side, Modality.VISION)
        sizes[density] = previews.request(photo.source, Modality.VISION, size).rgb.shape[1]
        assert model.preview_size(model.side, Modality.AUDIO) is None  # drawn, not decoded to pixels
    side = model.side  # Large: the card's device pixels, not an upscaled thumbnail
    assert sizes == {1: THUMBNAIL, 2: math.ceil(side * model._painter.devicePixelRatioF())} and side > THUMBNAIL
    previews.shutdown()
