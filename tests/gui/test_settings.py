"""Settings ▸ OK never rebinds new libraries (defect 1)."""

from __future__ import annotations

from app.gui.settings_dialog import SettingsDialog
from engine.models.zoo import default_entry, entries


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
