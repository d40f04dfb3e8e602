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
        point.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
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
        qtbot.waitUntil(lambda m=modality: len(terms_in(window, m)) == 1, timeout=ENGINE_TIMEOUT_MS)
        [term] = terms_in(window, modality)
        assert term.modality is modality and term.source == str(path)
    qtbot.waitUntil(
        lambda: window.outcome is not None and len(window.outcome.results.terms) == 6, timeout=ENGINE_TIMEOUT_MS
    )
    settle(qtbot, window)
    assert window.results.cards


def test_files_offered_while_the_library_opens_wait_for_it(
    qtbot, tmp_path, tiny_weights, gui_thread_guard, indexed_library, world
):
    """``main.py --library L --query FILE``: the file is offered before the library is open, and still searched."""
    from PySide6.QtCore import QSettings

    from app.gui.main_window import MainWindow

    gui_thread_guard()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model=str(tiny_weights), device="cpu", library=str(indexed_library))
    qtbot.addWidget(window)
    sound = sorted((world / "audio").iterdir())[0]
    window.composer.add_files([str(sound)])
    window.show()
    qtbot.waitUntil(lambda: len(terms_in(window, Modality.AUDIO)) == 1, timeout=ENGINE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.outcome is not None, timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    assert [e.term.value for e in window.outcome.results.terms] == [str(sound)]
    assert window.results.cards
    window.close()


def test_wrong_pane_routes_and_unknown_files_are_refused(qtbot, make_window, indexed_library, world, tmp_path):
    window = make_window(indexed_library)
    messages = []
    window.composer.message.connect(messages.append)
    sound = sorted((world / "audio").iterdir())[0]
    drop(window.composer.panes[Modality.VISION], [sound])
    qtbot.waitUntil(lambda: len(terms_in(window, Modality.AUDIO)) == 1, timeout=ENGINE_TIMEOUT_MS)
    assert terms_in(window, Modality.VISION) == []
    assert "added to the Audio pane" in messages[-1]
    (tmp_path / "archive.zip").write_bytes(b"PK")
    drop(window.composer.panes[Modality.IMU], [tmp_path / "archive.zip"])
    qtbot.waitUntil(lambda: "cannot read .zip files" in messages[-1], timeout=ENGINE_TIMEOUT_MS)
    assert sum(len(terms_in(window, m)) for m in Modality) == 1


def test_composing_with_weights_updates_results(qtbot, make_window, indexed_library, world):
    window = make_window(indexed_library)
    drop(window.composer.panes[Modality.VISION], [sorted((world / "images").iterdir())[2]])
    qtbot.waitUntil(lambda: len(terms_in(window, Modality.VISION)) == 1, timeout=ENGINE_TIMEOUT_MS)
    window.composer.add_text("a dog on the grass")
    qtbot.waitUntil(
        lambda: window.outcome is not None and len(window.outcome.results.terms) == 2, timeout=ENGINE_TIMEOUT_MS
    )
    settle(qtbot, window)
    before = window.outcome.results.vector.copy()
    text_widget = window.composer.panes[Modality.TEXT].terms.itemAt(0).widget()
    text_widget.slider.setValue(-0.5)
    qtbot.waitUntil(lambda: window.outcome.results.terms[1].term.weight == -0.5, timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    image, text = window.outcome.results.terms
    expected = image.vector - 0.5 * text.vector
    np.testing.assert_allclose(window.outcome.results.vector, expected / np.linalg.norm(expected), atol=1e-5)
    assert not np.allclose(before, window.outcome.results.vector)
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
    ids = window.map_data.projection.ids
    assert len(ids) == 72
    first = int(ids[0])
    window.neighbours_of(first)
    qtbot.waitUntil(lambda: bool(window.results.cards), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    assert first not in [c.item.id for c in window.results.cards]
    searched = [c.item.id for c in window.results.cards]
    window.map_view.set_selection([int(i) for i in ids[:5]])
    window.map_view.filter_button.click()
    qtbot.waitUntil(lambda: window.browse.browse.total == 5, timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    assert window.result_tabs.currentWidget() is window.browse
    assert "Map selection" in window.browse.title.text()
    assert [c.item.id for c in window.results.cards] == searched  # the query's results stay where they were


def test_failed_files_are_reported_a_page_at_a_time(qtbot, make_window, indexed_library):
    window = make_window(indexed_library)
    model = window.library_panel.failed_model
    assert model.rowCount() == 3

    def rows():
        return {model.data(model.index(r, 0)): model.data(model.index(r, 1)) for r in range(model.rowCount())}

    qtbot.waitUntil(lambda: "…" not in rows(), timeout=ENGINE_TIMEOUT_MS)
    assert set(rows()) == {"empty.jpg", "cut.wav", "broken.csv"}
    assert rows()["broken.csv"].startswith("InvalidSignal: missing IMU columns")


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
    assert len(window.zero_shot.bar_texts()) == 3


def test_a_library_whose_model_and_folder_are_away_still_opens_and_searches(
    qtbot, make_window, tmp_path, mixed_folder, tiny_weights
):
    import shutil

    from engine.workspace import Workspace

    weights = tmp_path / "models" / "mine.safetensors"
    weights.parent.mkdir()
    shutil.copy(tiny_weights, weights)
    workspace = Workspace.open(tmp_path / "lib", create=True, model=str(weights), device="cpu")
    workspace.index([mixed_folder])
    workspace.map()  # laid out here, where UMAP is compiled already, and cached: the window reads it
    workspace.close()
    shutil.move(mixed_folder, tmp_path / "unmounted")
    shutil.move(weights.parent, tmp_path / "elsewhere")
    window = make_window(tmp_path / "lib")
    panel = window.library_panel
    assert not panel.model_banner.isHidden() and "mine.safetensors" in panel.model_message.text()
    assert "not on this machine" in window.model_button.text()
    root = panel.tree.topLevelItem(0)
    assert "offline" in root.text(0) and root.text(1).startswith("75")
    assert window.summary.failed == 3 and window.summary.embedded == 72  # nothing turned failed, nothing removed
    window.neighbours_of(5)
    qtbot.waitUntil(lambda: bool(window.results.cards), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    assert all(card.offline for card in window.results.cards)
    window.composer.add_text("a dog")
    qtbot.waitUntil(lambda: "needs the model" in window.results.empty.text(), timeout=ENGINE_TIMEOUT_MS)


def test_imported_items_outside_every_folder_are_listed(qtbot, make_window, tmp_path):
    """A library filled by `bindscope import` (paths on a drive that is not here, in no folder of the library)."""
    from tests.libraries import clustered, library_of

    modalities = ["vision"] * 12 + ["audio"] * 8
    library_of(tmp_path / "imported", clustered(20, 16), modalities).close()
    window = make_window(tmp_path / "imported" / "lib")
    tree = window.library_panel.tree
    [node] = [tree.topLevelItem(n) for n in range(tree.topLevelItemCount())]
    assert (node.text(0), node.text(1)) == ("Outside the folders", "20")
    children = {node.child(n).text(0): node.child(n).text(1) for n in range(node.childCount())}
    assert set(children) == {"● Image", "● Audio"}
    assert children["● Image"].startswith("12")


def test_exported_results_record_the_query_and_say_where(qtbot, make_window, indexed_library, tmp_path):
    import json

    window = make_window(indexed_library)
    window.composer.add_text("a dog barking")
    qtbot.waitUntil(lambda: bool(window.results.cards), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    out = tmp_path / "results.json"
    window.folders.ask_save = lambda *_: str(out)  # the file dialog's answer
    window.export_results()
    qtbot.waitUntil(lambda: "Exported" in window.message.text(), timeout=ENGINE_TIMEOUT_MS)
    record = json.loads(out.read_text())
    assert [t["term"] for t in record["query"]] == ["“a dog barking”"]
    assert len(record["results"]) == len(window.outcome.cards()) and str(out) in window.message.text()
