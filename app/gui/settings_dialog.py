"""Settings: the open library's model (kept with the library), the model for new libraries, the device, and
whether indexing decodes JPEG photos at a reduced size (off unless asked for: the pixels differ).

A library keeps the model it was embedded with; here a person can see it, download or locate it
when it is missing, or choose to re-embed the library with another model (an explicit action
with its own confirmation). The model chosen for new libraries never changes an existing one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from engine.facts import DEVICE_CHOICES, DEVICE_LABELS, REDUCED_JPEG_EFFECT
from engine.workspace import active_model, find_model

if TYPE_CHECKING:
    from engine.facts import ModelEntry
    from engine.workspace import ModelState

CHECKPOINTS = "Checkpoints (*.pth *.pt *.safetensors)"


def choose_checkpoint(parent: QWidget, title: str = "Choose a checkpoint") -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, title, "", CHECKPOINTS)
    return path or None


class SettingsDialog(QDialog):
    """``choice()`` gives the model for new libraries and the device; ``action`` what to do with the library's
    model: None, ("download",), ("locate", path) or ("reembed", name-or-path).

    With no model chosen yet, the one new libraries would get (the best available) is shown checked, and OK
    without touching it keeps "none chosen": a click on OK never binds new libraries to a model."""

    def __init__(
        self,
        entries: list[ModelEntry],
        library_model: ModelState | None,
        new_library_model: str | None,
        device: str,
        parent: QWidget | None = None,
        *,
        reduced_jpeg: bool = False,
    ):
        super().__init__(parent)
        self.setWindowTitle("BindScope settings")
        self.setMinimumWidth(560)
        self.action: tuple | None = None
        self._entries = entries
        layout = QVBoxLayout(self)
        if library_model is not None and library_model.ref is not None:
            layout.addWidget(self._library_box(library_model))
        self._current = new_library_model
        layout.addWidget(self._new_library_box(entries, new_library_model))
        self._shown = (self.group.checkedId(), self.path.text())
        form = QFormLayout()
        self.device = QComboBox()
        for value in DEVICE_CHOICES:
            self.device.addItem(DEVICE_LABELS[value], value)
        self.device.setCurrentIndex(max(0, self.device.findData(device)))
        form.addRow("Device:", self.device)
        indexing = QWidget()
        column = QVBoxLayout(indexing)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        self.reduced_jpeg = QCheckBox("Decode JPEG photos at a reduced size when indexing")
        self.reduced_jpeg.setChecked(reduced_jpeg)
        effect = QLabel(f"<small>It {REDUCED_JPEG_EFFECT}.</small>")
        effect.setWordWrap(True)
        effect.setContentsMargins(22, 0, 0, 0)
        column.addWidget(self.reduced_jpeg)
        column.addWidget(effect)
        form.addRow("Indexing:", indexing)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _library_box(self, state: ModelState) -> QGroupBox:
        box = QGroupBox("This library's model")
        column = QVBoxLayout(box)
        ready = "ready" if state.available else "not on this machine"
        label = QLabel(f"<b>{state.ref.title}</b> — {ready}<br><small>{state.message}</small>")
        label.setWordWrap(True)
        column.addWidget(label)
        row = QHBoxLayout()
        if not state.available:
            if state.downloadable:
                self.download_button = self._button(row, "Download", lambda: self._finish(("download",)))
                column.addWidget(_licence_label(find_model(state.ref.name)))
            self.locate_button = self._button(row, "Locate checkpoint…", self._locate)
        self.reembed_button = self._button(row, "Re-embed with another model…", self._reembed)
        row.addStretch(1)
        column.addLayout(row)
        return box

    def _new_library_box(self, entries: list[ModelEntry], current: str | None) -> QGroupBox:
        box = QGroupBox("Model for new libraries")
        column = QVBoxLayout(box)
        self.group = QButtonGroup(self)
        self._names: dict[int, str] = {}
        for index, entry in enumerate(entries):
            state = "ready" if entry.available else ("downloads on first use" if entry.downloadable else "missing")
            button = QRadioButton(f"{entry.title} — {state}")
            button.setToolTip(f"{entry.summary}\n{entry.weights_path}")
            self.group.addButton(button, index)
            self._names[index] = entry.name
            column.addWidget(button)
            summary = QLabel(f"<small>{entry.summary}</small>")
            summary.setWordWrap(True)
            summary.setContentsMargins(24, 0, 0, 0)
            column.addWidget(summary)
            column.addWidget(_licence_label(entry))
            if entry.name == current:
                button.setChecked(True)
        local_row = QHBoxLayout()
        self.local = QRadioButton("Local checkpoint:")
        self.group.addButton(self.local, len(entries))
        self.path = QLineEdit()
        self.path.setPlaceholderText("a .pth or .safetensors file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        local_row.addWidget(self.local)
        local_row.addWidget(self.path, 1)
        local_row.addWidget(browse)
        column.addLayout(local_row)
        if current and current not in self._names.values():
            self.local.setChecked(True)
            self.path.setText(current)
        if self.group.checkedButton() is None:
            fallback = active_model()
            for index, name in self._names.items():
                if fallback is not None and name == fallback.name:
                    self.group.button(index).setChecked(True)
        return box

    @staticmethod
    def _button(row: QHBoxLayout, text: str, handler) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(handler)
        row.addWidget(button)
        return button

    def _finish(self, action: tuple) -> None:
        self.action = action
        self.accept()

    def _locate(self) -> None:
        path = choose_checkpoint(self, "Where is this library's checkpoint?")
        if path:
            self._finish(("locate", path))

    def _reembed(self) -> None:
        name, _ = self.choice()
        if name:
            self._finish(("reembed", name))

    def _browse(self) -> None:
        path = choose_checkpoint(self)
        if path:
            self.path.setText(path)
            self.local.setChecked(True)

    def choice(self) -> tuple[str | None, str]:
        """The model for new libraries (as it was unless the person changed it) and the device."""
        if (self.group.checkedId(), self.path.text()) == self._shown:
            return self._current, self.device.currentData()
        checked = self.group.checkedId()
        name = self.path.text().strip() or None if checked == len(self._names) else self._names.get(checked)
        return name, self.device.currentData()


def _licence_label(entry: ModelEntry) -> QLabel:
    """The weights' terms, said before anything is downloaded (ImageBind's are non-commercial)."""
    label = QLabel(f"<small>Licence: {entry.weights.licence or 'not stated by the checkpoint'}</small>")
    label.setWordWrap(True)
    label.setContentsMargins(24, 0, 0, 4)
    label.setOpenExternalLinks(True)
    return label
