"""The query composer: one drop pane per modality plus a text box; each term has a preview and a weight.

Dropping a file (or choosing one, or pasting a picture) offers it (``filesOffered``); the window
has the engine say what it is, off the GUI thread (reading it where its name leaves it open), and
hands back ``add_described``: a file dropped on the wrong pane goes to the pane of its modality,
and the window says so; a file no loader reads is refused with the reason. Weights run from -1 to +1 (negative subtracts); any change emits
``changed`` after a short pause, so dragging a slider asks for one search, not fifty.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel, QLabeledDoubleSlider

from app.colours import MODALITY_COLOURS
from app.gui.preview_view import PreviewView
from app.gui.previews import Preview, PreviewLoader
from engine.facts import ACCEPTS
from engine.modality import Modality
from engine.workspace import DroppedFile, Term

PANES = (Modality.VISION, Modality.AUDIO, Modality.DEPTH, Modality.THERMAL, Modality.IMU, Modality.TEXT)


@dataclass
class ComposedTerm:
    """A term in the composer and the name and source shown for it."""

    term: Term
    modality: Modality
    name: str
    source: str


def file_filter(modality: Modality) -> str:
    patterns = " ".join(f"*{e}" for e in sorted(ACCEPTS[modality]))
    return f"{modality.label} files ({patterns});;All files (*)"


class TermWidget(QFrame):
    weightChanged = Signal(object, float)
    removed = Signal(object)

    def __init__(self, composed: ComposedTerm, previews: PreviewLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.composed = composed
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("term")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        self.preview = PreviewView(QSize(104, 64))
        self.preview.setMaximumHeight(64)
        layout.addWidget(self.preview)
        top = QHBoxLayout()
        top.setSpacing(2)
        name = QElidingLabel(composed.name)  # "dog_…03.wav" in a narrow pane, whole in the tooltip
        name.setElideMode(Qt.TextElideMode.ElideMiddle)
        name.setToolTip(composed.source)
        name.setMinimumWidth(40)
        top.addWidget(name, 1)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Remove this term (Delete)")
        close.setAutoRaise(True)
        close.setFixedSize(18, 18)  # leaves the name the room
        close.clicked.connect(lambda: self.removed.emit(self))
        top.addWidget(close)
        layout.addLayout(top)
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-1.0, 1.0)
        self.slider.setSingleStep(0.05)
        self.slider.setDecimals(2)
        self.slider.setValue(composed.term.weight)
        self.slider.setToolTip("Weight: negative subtracts this term from the query")
        self.slider.setAccessibleName(f"Weight of {composed.name}")
        self.slider.valueChanged.connect(self._on_slider)
        layout.addWidget(self.slider)
        cached = previews.request(composed.source, composed.modality)
        if cached is not None:
            self.preview.set_preview(cached)
        self._preview_key = previews.key(composed.source, composed.modality)
        previews.ready.connect(self._on_preview)

    def _on_preview(self, key: str, preview: Preview) -> None:
        if key == self._preview_key:
            self.preview.set_preview(preview)

    def _on_slider(self, value: float) -> None:
        self.composed = replace(self.composed, term=replace(self.composed.term, weight=round(value, 2)))
        self.weightChanged.emit(self, value)


class DropPane(QFrame):
    """One modality's drop zone and its terms."""

    filesDropped = Signal(list, object)  # paths, the pane's modality
    browse = Signal(object)  # modality

    def __init__(self, modality: Modality, parent: QWidget | None = None):
        super().__init__(parent)
        self.modality = modality
        self.setAcceptDrops(True)
        self.setObjectName(f"pane-{modality.value}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(104)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        header = QLabel(f"<b><span style='color:{MODALITY_COLOURS[modality]}'>●</span> {modality.label}</b>")
        layout.addWidget(header)
        self.zone = QPushButton("Drop a file\nor browse…")  # the header names the modality; fits narrow panes
        self.zone.setObjectName("dropzone")
        self.zone.setMinimumHeight(48)
        self.zone.setToolTip(f"Accepts: {', '.join(sorted(ACCEPTS[modality]))}")
        self.zone.clicked.connect(lambda: self.browse.emit(self.modality))
        if modality is Modality.TEXT:
            self.zone.hide()
            self.text = QLineEdit()
            self.text.setPlaceholderText("Type a text…")
            self.text.setToolTip("Type a text and press Enter to add it to the query, or drop a .txt file here")
            self.text.setClearButtonEnabled(True)
            layout.addWidget(self.text)
        layout.addWidget(self.zone)
        self.terms = QVBoxLayout()
        self.terms.setSpacing(4)
        layout.addLayout(self.terms)
        layout.addStretch(1)
        self._highlight(False)

    def _highlight(self, on: bool) -> None:
        colour = QColor(MODALITY_COLOURS[self.modality])
        border = colour.name() if on else "palette(mid)"
        self.setStyleSheet(
            f"QFrame#{self.objectName()} {{ border: 2px {'solid' if on else 'dashed'} {border}; border-radius: 6px; }}"
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
            self._highlight(True)

    def dragLeaveEvent(self, event) -> None:
        self._highlight(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._highlight(False)
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.filesDropped.emit(paths, self.modality)


class QueryComposer(QWidget):
    """All panes; ``changed`` carries the current list of terms after edits settle."""

    changed = Signal(list)
    message = Signal(str)
    filesOffered = Signal(list, object)  # paths, the pane's modality (or None)

    def __init__(self, previews: PreviewLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.previews = previews
        self.panes: dict[Modality, DropPane] = {}
        self._widgets: list[TermWidget] = []
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        title = QHBoxLayout()
        title.addWidget(QLabel("<b>Query</b> — drop files of any modality; weights add (+) or subtract (−)"))
        title.addStretch(1)
        self.clear_button = QPushButton("Clear query")
        self.clear_button.clicked.connect(self.clear)
        title.addWidget(self.clear_button)
        outer.addLayout(title)
        row = QHBoxLayout()
        for modality in PANES:
            pane = DropPane(modality)
            pane.filesDropped.connect(self.add_files)
            pane.browse.connect(self._browse)
            if modality is Modality.TEXT:
                pane.text.returnPressed.connect(self._add_typed_text)
            self.panes[modality] = pane
            row.addWidget(pane)
        inner = QWidget()
        inner.setLayout(row)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        outer.addWidget(scroll, 1)
        self._debounce = QTimer(self, singleShot=True, interval=180)
        self._debounce.timeout.connect(lambda: self.changed.emit(self.terms()))

    def terms(self) -> list[ComposedTerm]:
        return [w.composed for w in self._widgets]

    def add_files(self, paths: list[str], pane_modality: Modality | None = None) -> None:
        """Offer files as terms; the window describes them off the GUI thread and calls ``add_described``."""
        if paths:
            self.filesOffered.emit([str(p) for p in paths], pane_modality)

    def add_described(self, described: list[DroppedFile], pane_modality: Modality | None = None) -> None:
        """Add described files as terms, each in the pane of its own modality; refuse files no loader reads."""
        for file in described:
            if file.modality is None:
                self.message.emit(file.refusal)
                continue
            name = Path(file.path).name
            if pane_modality is not None and file.modality is not pane_modality:
                self.message.emit(f"{name} is {file.modality.label.lower()}: added to the {file.modality.label} pane")
            # A library file (unchanged) or a copy of one uses its stored embedding: the searcher sees to it.
            self.add_term(ComposedTerm(Term.file(file.path, 1.0, file.modality), file.modality, name, file.path))

    def add_text(self, text: str, weight: float = 1.0) -> None:
        text = text.strip()
        if text:
            self.add_term(ComposedTerm(Term.text(text, weight), Modality.TEXT, f"“{text}”", text))

    def add_item(self, item_id: int, modality: Modality, name: str, source: str, weight: float = 1.0) -> None:
        self.add_term(ComposedTerm(Term.item(item_id, weight), modality, name, source))

    def add_term(self, composed: ComposedTerm) -> None:
        widget = TermWidget(composed, self.previews)
        widget.weightChanged.connect(lambda *_: self._debounce.start())
        widget.removed.connect(self.remove)
        self.panes[composed.modality].terms.addWidget(widget)
        self._widgets.append(widget)
        self._debounce.start()

    def remove(self, widget: TermWidget) -> None:
        self._widgets.remove(widget)
        widget.setParent(None)
        widget.deleteLater()
        self._debounce.start()

    def remove_last(self) -> None:
        if self._widgets:
            self.remove(self._widgets[-1])

    def clear(self) -> None:
        for widget in list(self._widgets):
            self.remove(widget)

    def _add_typed_text(self) -> None:
        box = self.panes[Modality.TEXT].text
        self.add_text(box.text())
        box.clear()

    def _browse(self, modality: Modality) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, f"Add {modality.label.lower()} to the query", "", file_filter(modality)
        )
        self.add_files(paths, modality)
