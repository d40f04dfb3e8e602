"""Zero-shot labels: an editable label list saved with the library, and the current query's probabilities."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPlainTextEdit, QProgressBar, QScrollArea, QVBoxLayout, QWidget


class ZeroShotPanel(QWidget):
    labelsEdited = Signal(list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(QLabel("<b>Labels</b> — one per line, saved with the library"))
        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText("dog\ncat\nrain\n…")
        self.editor.setMaximumHeight(150)
        layout.addWidget(self.editor)
        self.caption = QLabel("<b>Probabilities</b> for the current query")
        layout.addWidget(self.caption)
        self.bars = QVBoxLayout()
        bars = QWidget()
        bars.setLayout(self.bars)
        self.bars.setContentsMargins(0, 0, 0, 0)
        self.bars.addStretch(1)
        scroll = QScrollArea()  # every label, however many: the list scrolls
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(bars)
        layout.addWidget(scroll, 1)
        self.hint = QLabel("Compose a query and add labels to classify it zero-shot.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.hint)
        self._save = QTimer(self, singleShot=True, interval=800)
        self._save.timeout.connect(lambda: self.labelsEdited.emit(self.labels()))
        self.editor.textChanged.connect(self._save.start)

    def labels(self) -> list[str]:
        return [line.strip() for line in self.editor.toPlainText().splitlines() if line.strip()]

    def set_labels(self, labels: list[str]) -> None:
        self.editor.blockSignals(True)
        self.editor.setPlainText("\n".join(labels))
        self.editor.blockSignals(False)

    def bar_texts(self) -> list[str]:
        return [self.bars.itemAt(i).widget().format() for i in range(self.bars.count() - 1)]

    def show_probabilities(self, ranked: list[tuple[str, float]]) -> None:
        while self.bars.count() > 1:  # the bars, above the stretch
            self.bars.takeAt(0).widget().deleteLater()
        self.hint.setVisible(not ranked)
        for label, probability in ranked:
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(probability * 1000))
            bar.setFormat(f"{label}  {probability:.1%}")
            bar.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            bar.setToolTip(f"{label}: {probability:.4f}")
            self.bars.insertWidget(self.bars.count() - 1, bar)
