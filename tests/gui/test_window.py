from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from engine.modality import Modality
from tests.gui.conftest import ENGINE_TIMEOUT_MS, settle


def drop(widget, paths) -> None:
    """A real drag-enter and drop of file URLs on a widget."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(
        point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)
    event = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def terms_in(window, modality):
    pane = window.composer.panes[modality]
    return [pane.terms.itemAt(i).widget().composed for i in range(pane.terms.count())]


def test_drop_each_modality_on_its_pane(qtbot, make_window, indexed_library, world):
    window = make_window(indexed_library)
    files = {
        Modality.VISION: sorted((world / "images").iterdir())[0],
        Modality.AUDIO: sorted((world / "audio").iterdir())[0],
        Modality.DEPTH: sorted((world / "depth").iterdir())[0],
        Modality.THERMAL: sorted((world / "thermal").iterdir())[0],
        Modality.IMU: sorted((world / "imu").iterdir())[0],
        Modality.TEXT: sorted((world / "text").iterdir())[0],
    }
    for modality, path in files.items():
        drop(window.composer.panes[modality], [path])
        [term] = terms_in(window, modality)
        assert term.modality is modality and term.source == str(path)
    qtbot.waitUntil(lambda: len(window.results.cards) > 0, timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    assert len(window.outcome.terms) == 6


def test_wrong_pane_routes_and_unknown_files_are_refused(qtbot, make_window, indexed_library, world, tmp_path):
    window = make_window(indexed_library)
    messages = []
    window.composer.message.connect(messages.append)
    sound = sorted((world / "audio").iterdir())[0]
    drop(window.composer.panes[Modality.VISION], [sound])
    assert terms_in(window, Modality.VISION) == [] and len(terms_in(window, Modality.AUDIO)) == 1
    assert "added to the Audio pane" in messages[-1]
    (tmp_path / "archive.zip").write_bytes(b"PK")
    drop(window.composer.panes[Modality.IMU], [tmp_path / "archive.zip"])
    assert "cannot read .zip files" in messages[-1]
    assert sum(len(terms_in(window, m)) for m in Modality) == 1


def test_composing_with_weights_updates_results(qtbot, make_window, indexed_library, world):
    window = make_window(indexed_library)
    drop(window.composer.panes[Modality.VISION], [sorted((world / "images").iterdir())[2]])
    window.composer.add_text("a dog on the grass")
    qtbot.waitUntil(lambda: window.outcome is not None and len(window.outcome.terms) == 2, timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    before = window.outcome.vector.copy()
    text_widget = window.composer.panes[Modality.TEXT].terms.itemAt(0).widget()
    text_widget.slider.setValue(-0.5)
    qtbot.waitUntil(lambda: window.outcome.terms[1].term.weight == -0.5, timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    image, text = window.outcome.terms
    expected = image.vector - 0.5 * text.vector
    np.testing.assert_allclose(window.outcome.vector, expected / np.linalg.norm(expected), atol=1e-5)
    assert not np.allclose(before, window.outcome.vector)
    cards = window.results.cards
    assert cards and not any(math.isnan(c.score) for c in cards)
    for modality in {c.item.modality for c in cards}:  # grouped by modality, each group best first
        scores = [c.score for c in cards if c.item.modality is modality]
        assert scores == sorted(scores, reverse=True)
    order = list(dict.fromkeys(c.item.modality for c in cards))
    own = {Modality.VISION, Modality.TEXT}
    assert order == [m for m in order if m not in own] + [m for m in order if m in own]  # cross-modal groups first
    others = [next(c.score for c in cards if c.item.modality is m) for m in order if m not in own]
    assert others == sorted(others, reverse=True)


def test_modality_filter_limits_results(qtbot, make_window, indexed_library, world):
    window = make_window(indexed_library)
    for modality, box in window.results.filters.items():
        box.setChecked(modality is Modality.THERMAL)
    window.composer.add_text("fire at night")
    qtbot.waitUntil(lambda: bool(window.results.cards), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    assert {c.item.modality for c in window.results.cards} == {Modality.THERMAL}


def test_map_populates_and_click_shows_neighbours(qtbot, make_window, indexed_library):
    window = make_window(indexed_library)
    qtbot.waitUntil(
        lambda: window.map_data is not None and window.map_data.projection.method == "umap", timeout=ENGINE_TIMEOUT_MS
    )
    assert len(window.map_view._ids) == 72
    first = int(window.map_view._ids[0])
    window.map_view.itemClicked.emit(first)
    qtbot.waitUntil(lambda: bool(window.results.cards), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    assert first not in [c.item.id for c in window.results.cards]
    window.map_view.set_selection([int(i) for i in window.map_view._ids[:5]])
    window.map_view.filter_button.click()
    qtbot.waitUntil(lambda: "selection" in window.results.title.text(), timeout=ENGINE_TIMEOUT_MS)
    assert len(window.results.cards) == 5


def test_failed_files_are_reported(qtbot, make_window, indexed_library):
    window = make_window(indexed_library)
    failed = window.library_panel.failed
    names = {failed.topLevelItem(i).text(0) for i in range(failed.topLevelItemCount())}
    assert names == {"empty.jpg", "cut.wav", "broken.csv"}
    reasons = {
        failed.topLevelItem(i).text(0): failed.topLevelItem(i).text(1) for i in range(failed.topLevelItemCount())
    }
    assert reasons["broken.csv"].startswith("InvalidSignal: missing IMU columns")


def test_labels_give_probabilities(qtbot, make_window, indexed_library):
    window = make_window(indexed_library)
    window.zero_shot.editor.setPlainText("dog\ncat\nrain")
    qtbot.waitUntil(lambda: window.summary is not None, timeout=ENGINE_TIMEOUT_MS)
    window.composer.add_text("a barking dog")
    qtbot.waitUntil(
        lambda: bool(window.outcome is not None and window.outcome.probabilities), timeout=ENGINE_TIMEOUT_MS
    )
    settle(qtbot, window)
    probabilities = dict(window.outcome.probabilities)
    assert set(probabilities) == {"dog", "cat", "rain"} and abs(sum(probabilities.values()) - 1) < 1e-5
    assert window.zero_shot.bars.count() == 3
