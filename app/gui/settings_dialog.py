"""Settings: which model (the demo, ImageBind-huge with download, or a local checkpoint) and which device."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from engine.models.zoo import ModelEntry


class SettingsDialog(QDialog):
    """Returns the chosen model (a zoo name or a checkpoint path) and device via ``choice()``."""

    def __init__(self, entries: list[ModelEntry], current: str | None, device: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("BindScope settings")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Model</b>"))
        self.group = QButtonGroup(self)
        self._names: dict[int, str] = {}
        for index, entry in enumerate(entries):
            state = "ready" if entry.available else ("downloads on first use" if entry.downloadable else "missing")
            button = QRadioButton(f"{entry.title} — {state}")
            button.setToolTip(f"{entry.summary}\n{entry.weights_path}")
            self.group.addButton(button, index)
            self._names[index] = entry.name
            layout.addWidget(button)
            summary = QLabel(f"<small>{entry.summary}</small>")
            summary.setWordWrap(True)
            summary.setContentsMargins(24, 0, 0, 4)
            layout.addWidget(summary)
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
        layout.addLayout(local_row)
        if current and current not in self._names.values():
            self.local.setChecked(True)
            self.path.setText(current)
        if self.group.checkedButton() is None and self.group.buttons():
            self.group.buttons()[0].setChecked(True)
        form = QFormLayout()
        self.device = QComboBox()
        for value, text in (
            ("auto", "Automatic (CUDA when present, half precision)"),
            ("cuda", "CUDA GPU"),
            ("cpu", "CPU (float32)"),
        ):
            self.device.addItem(text, value)
        self.device.setCurrentIndex(max(0, self.device.findData(device)))
        form.addRow("Device:", self.device)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", "", "Checkpoints (*.pth *.pt *.safetensors)")
        if path:
            self.path.setText(path)
            self.local.setChecked(True)

    def choice(self) -> tuple[str | None, str]:
        checked = self.group.checkedId()
        name = self.path.text().strip() or None if checked == len(self._names) else self._names.get(checked)
        return name, self.device.currentData()
