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


def test_the_panes_render_the_query_and_a_selection_shows_its_name_not_a_preview(qtbot, tmp_path):
    from app.gui.composer import QueryComposer
    from app.gui.previews import PreviewLoader
    from app.state.query import Query, selection_term, text_term
    from engine.modality import Modality

    query = Query()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    composer = QueryComposer(PreviewLoader(), query, LastFolders(settings))
    qtbot.addWidget(composer)
    query.add(text_term("a dog"))
    query.replace(selection_term(list(range(284)), Modality.DEPTH))
    [widget] = composer._widgets
    assert widget.composed.name == "Selection of 284 items" and widget._preview_key is None
    assert composer.panes[Modality.DEPTH].terms.count() == 1
    widget.slider.setValue(0.5)  # the slider is an intent: the query changes, the widget stays
    assert query.terms[0].weight == 0.5 and composer._widgets == [widget]
    query.undo()
    assert widget.slider.value() == 1.0 and composer._widgets == [widget]
    query.undo()
    assert [w.composed.name for w in composer._widgets] == ["“a dog”"]
