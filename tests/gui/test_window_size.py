"""The window fits 1280x720 whatever it shows (defect 2): long titles elide, the modality filter is a menu, the
map's status elides; its minimum width does not grow with content."""

from __future__ import annotations

import numpy as np

from engine.workspace import MapData, Projection

SCREEN_WIDTH = 1280


def test_the_window_fits_1280_wide_whatever_it_shows(qtbot, make_window):
    window = make_window()
    window.resize(SCREEN_WIDTH, 720)
    assert window.minimumSizeHint().width() <= SCREEN_WIDTH
    count = 2_000
    clusters = np.arange(count) % 45 - 1
    coords = np.random.default_rng(0).uniform(-1, 1, (count, 2)).astype(np.float32)
    window.map_view.set_data(MapData(Projection(np.arange(count), np.full(count, "vision"), coords, "pca"), clusters))
    window.results.set_cards([], "Neighbours of the selected point, a title as long as a person's sentence " * 2)
    for text in ("a dog on the grass at night", "a long text about trains, rain and bells in the valley", "cat"):
        window.composer.add_text(text)
    qtbot.waitUntil(lambda: len(window.composer._widgets) == 3)
    assert window.minimumSizeHint().width() <= SCREEN_WIDTH
    assert window.width() == SCREEN_WIDTH


def test_a_long_status_message_elides_beside_the_model_button_at_1280(qtbot, make_window, tmp_path):
    window = make_window(tmp_path / "library")
    window.resize(SCREEN_WIDTH, 720)
    long = (
        "The model ImageBind-huge is not on this machine: download it with Download in the banner, or locate its "
        "weights; until then the library can be browsed but not searched by text or file, and indexing waits for it"
    )
    window.session.model_missing(long)
    qtbot.waitUntil(lambda: window.model_button.text() == "The model ImageBind-huge is not on this machine")
    message, button = window.message.geometry(), window.model_button.geometry()
    assert window.message.minimumSizeHint().width() <= message.width()  # it asks for no more than it is given
    assert message.right() < button.left() and button.right() <= window.width()
    assert window.message.text() == long and window.message.toolTip() == long
    assert window.width() == SCREEN_WIDTH


def test_a_file_term_fits_its_pane_at_720_without_the_query_strip_scrolling(
    qtbot, make_window, indexed_library, tmp_path
):
    from PySide6.QtWidgets import QScrollArea

    from engine.modality import Modality
    from tests.files import write_audio

    window = make_window(indexed_library)
    window.resize(SCREEN_WIDTH, 720)
    window.composer.add_text("a bell")
    window.composer.add_files([str(write_audio(tmp_path / "bell.wav"))])
    qtbot.waitUntil(lambda: len(window.composer._widgets) == 2, timeout=20_000)
    pane, empty = window.composer.panes[Modality.AUDIO], window.composer.panes[Modality.VISION]
    assert pane.zone.text() == "+ Add…" and "Drop a file" in empty.zone.text()
    qtbot.wait(50)
    strip = window.composer.findChild(QScrollArea)
    assert not strip.verticalScrollBar().isVisible() and not strip.horizontalScrollBar().isVisible()
    window.composer.query.remove(1)
    qtbot.waitUntil(lambda: len(window.composer._widgets) == 1)
    assert "Drop a file" in pane.zone.text()
    for text in ("a dog", "rain"):  # three texts stack in their pane: the strip scrolls down, never sideways
        window.composer.add_text(text)
    qtbot.waitUntil(lambda: len(window.composer._widgets) == 3)
    qtbot.wait(50)
    assert strip.verticalScrollBar().isVisible() and not strip.horizontalScrollBar().isVisible()


def test_the_map_count_fits_at_1280_by_720_without_eliding(qtbot, make_window):
    window = make_window()
    window.resize(SCREEN_WIDTH, 720)
    window.show()
    count = 145_000
    coords = np.random.default_rng(0).uniform(-1, 1, (count, 2)).astype(np.float32)
    for method in ("pca", "umap"):
        window.map_view.set_data(MapData(Projection(np.arange(count), np.full(count, "vision"), coords, method), None))
        qtbot.wait(20)
        status = window.map_view.status
        assert status.text().startswith("145,000 items")
        assert status.fontMetrics().horizontalAdvance(status.text()) <= status.contentsRect().width()
    assert window.width() == SCREEN_WIDTH and window.height() == 720


def test_the_library_tree_names_fit_beside_a_million_at_1280_by_720(qtbot, make_window, tmp_path):
    from tests.libraries import clustered, library_of

    library_of(tmp_path / "imported", clustered(6, 16), ["vision"] * 6).close()
    window = make_window(tmp_path / "imported" / "lib")
    window.resize(SCREEN_WIDTH, 720)
    tree = window.library_panel.tree
    outside = tree.topLevelItem(0)
    assert outside.text(0) == "Outside the folders"
    outside.setText(1, "1,000,000")  # the widest count a million-item library shows
    qtbot.wait(20)
    metrics = tree.fontMetrics()
    assert metrics.horizontalAdvance("1,000,000") <= tree.columnWidth(1)
    assert tree.indentation() + metrics.horizontalAdvance("Outside the folders") + 8 <= tree.columnWidth(0)
