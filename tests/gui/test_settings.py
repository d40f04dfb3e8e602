"""Settings ▸ OK never rebinds new libraries (defect 1)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from PySide6.QtWidgets import QLabel

from app.gui.settings_dialog import SettingsDialog
from engine.models.zoo import default_entry, entries
from engine.workspace import Workspace


def test_ok_without_changes_leaves_the_model_for_new_libraries_unchosen(qtbot):
    dialog = SettingsDialog(entries(), None, None, "cpu")
    qtbot.addWidget(dialog)
    fallback = default_entry()
    if fallback is not None:  # what new libraries get now is what is shown checked
        assert dialog.group.checkedButton().text().startswith(fallback.title)
    assert dialog.choice() == (None, "cpu")


def test_a_model_the_person_picks_is_the_choice(qtbot):
    dialog = SettingsDialog(entries(), None, None, "cpu")
    qtbot.addWidget(dialog)
    names = list(dialog._names.items())
    index, name = next((i, n) for i, n in names if dialog.group.button(i) is not dialog.group.checkedButton())
    dialog.group.button(index).click()
    assert dialog.choice()[0] == name


def test_reduced_jpeg_decoding_is_a_setting_the_window_indexes_with(qtbot, make_window, tmp_path):
    from PySide6.QtCore import QSettings

    from tests.files import write_image
    from tests.gui.conftest import settle

    dialog = SettingsDialog(entries(), None, None, "cpu", reduced_jpeg=True)
    qtbot.addWidget(dialog)
    assert dialog.reduced_jpeg.isChecked()
    assert any("cosine" in label.text() for label in dialog.findChildren(QLabel))  # what it costs, said beside it
    stored = QSettings(str(tmp_path / "settings0.ini"), QSettings.Format.IniFormat)  # the window's settings file
    stored.setValue("reduced_jpeg", True)
    stored.sync()
    folder = tmp_path / "photos"
    for number in range(2):
        write_image(folder / f"{number}.jpg", width=640, height=480, seed=number)
    window = make_window(tmp_path / "library")
    assert window.reduced_jpeg is True
    window.index(str(folder))
    settle(qtbot, window)
    assert window.summary.embedded == 2
    with ThreadPoolExecutor(1) as engine_thread:  # the library is read off the GUI thread, as the window does
        made_by = engine_thread.submit(
            lambda: Workspace.open(tmp_path / "library").library.get_meta("vectors_made_by")
        ).result()
    assert made_by.endswith("; JPEG pictures decoded at a reduced size")
