"""Small panels on their own (fast): every zero-shot label is shown, file dialogs remember the last folder."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from app.gui.dialogs import LastFolders
from app.gui.zero_shot import ZeroShotPanel


def test_every_zero_shot_label_is_shown_past_twelve(qtbot):
    panel = ZeroShotPanel()
    qtbot.addWidget(panel)
    ranked = [(f"label {i}", 1 / 20) for i in range(20)]
    panel.show_probabilities(ranked)
    panel.show_probabilities(ranked)  # shown again: replaced, not added
    assert len(panel.bar_texts()) == 20 and panel.bar_texts()[-1].startswith("label 19")


def test_file_dialogs_open_in_the_last_folder_of_their_kind(tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    (tmp_path / "exports").mkdir()
    folders = LastFolders(settings)
    assert folders.folder("export") == ""
    folders.remember("export", str(tmp_path / "exports" / "results.csv"))
    folders.remember("library", str(tmp_path))
    again = LastFolders(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert again.folder("export") == str(tmp_path / "exports") and again.folder("library") == str(tmp_path)
