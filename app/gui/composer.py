"""The query composer: one drop pane per modality plus a text box; each term has a preview and a weight.

The panes render the session's ``Query`` (``show_terms`` after each change), so they always show
what was searched, after an undo too; edits are sent to the query as intents. Dropping a file
(or choosing one, or pasting a picture) offers it (``filesOffered``); the window has the engine
say what it is and whether it reads, off the GUI thread, and hands back ``add_described``: a file
dropped on the wrong pane goes to the pane of its modality, and the window says so; a file that
cannot be read is refused with the reason. Weights run from -1 to +1 (negative subtracts).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
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
from app.gui.dialogs import LastFolders
from app.gui.preview_view import PreviewView
from app.gui.previews import Preview, PreviewLoader
from app.state.query import Query, QueryTerm, file_term, item_term, text_term
from engine.facts import ACCEPTS
from engine.modality import Modality
from engine.workspace import DroppedFile

PANES = (Modality.VISION, Modality.AUDIO, Modality.DEPTH, Modality.THERMAL, Modality.IMU, Modality.TEXT)


def file_filter(modality: Modality) -> str:
    patterns = " ".join(f"*{e}" for e in sorted(ACCEPTS[modality]))
    return f"{modality.label} files ({patterns});;All files (*)"


class TermWidget(QFrame):
    weightChanged = Signal(int, float)  # the term's index in the query, its new weight
    dragEnded = Signal()
    removed = Signal(int)

    def __init__(self, composed: QueryTerm, index: int, previews: PreviewLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.composed = composed
        self.index = index
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("term")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        self.preview = PreviewView(QSize(104, 64))
        self.preview.setMaximumHeight(64)
        self.preview.set_span(composed.parts[0].span)  # a moment's window, marked on its file's waveform
        layout.addWidget(self.preview)
        top = QHBoxLayout()
        top.setSpacing(2)
        name = QElidingLabel(composed.name)  # whole in the tooltip
        # a file keeps its extension ("dog_…03.wav"); a text reads from its start ("“a dog b…")
        text = composed.modality is Modality.TEXT
        name.setElideMode(Qt.TextElideMode.ElideRight if text else Qt.TextElideMode.ElideMiddle)
        name.setToolTip(composed.source)
        name.setMinimumWidth(40)
        top.addWidget(name, 1)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Remove this term (Delete)")
        close.setAutoRaise(True)
        close.setFixedSize(18, 18)  # leaves the name the room
        close.clicked.connect(lambda: self.removed.emit(self.index))
        top.addWidget(close)
        layout.addLayout(top)
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-1.0, 1.0)
        self.slider.setSingleStep(0.05)
        self.slider.setDecimals(2)
        self.slider.setValue(composed.weight)
        self.slider.setToolTip("Weight: negative subtracts this term from the query")
        self.slider.setAccessibleName(f"Weight of {composed.name}")
        self.slider.valueChanged.connect(lambda value: self.weightChanged.emit(self.index, value))
        self.slider.sliderReleased.connect(self.dragEnded)
        layout.addWidget(self.slider)
        self._preview_key = None
        if len(composed.parts) > 1:  # a map selection: nothing to preview, its name in full instead
            self.preview.hide()
            whole = QLabel(composed.name)
            whole.setWordWrap(True)
            whole.setAlignment(Qt.AlignmentFlag.AlignCenter)
            whole.setMinimumHeight(48)
            layout.insertWidget(0, whole)
            return
        cached = previews.request(composed.source, composed.modality)
        if cached is not None:
            self.preview.set_preview(cached)
        self._preview_key = previews.key(composed.source, composed.modality)
        previews.ready.connect(self._on_preview)

    def _on_preview(self, key: str, preview: Preview) -> None:
        if key == self._preview_key:
            self.preview.set_preview(preview)

    def show_weight(self, composed: QueryTerm) -> None:
        """The same term with another weight (an undo, or this slider's own move): no signal back."""
        self.composed = composed
        if abs(self.slider.value() - composed.weight) > 1e-9:
            self.slider.blockSignals(True)
            self.slider.setValue(composed.weight)
            self.slider.blockSignals(False)


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
        self.setMinimumWidth(88)  # six panes and a scroll bar fit the strip of a 1280 px window
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        header = QLabel(f"<b><span style='color:{MODALITY_COLOURS[modality]}'>●</span> {modality.label}</b>")
        layout.addWidget(header)
        self.zone = QPushButton()  # the header names the modality; fits narrow panes
        self.zone.setObjectName("dropzone")
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
        self.hold(False)
        self.terms = QVBoxLayout()
        self.terms.setSpacing(4)
        layout.addLayout(self.terms)
        layout.addStretch(1)
        self._highlight(False)

    def hold(self, terms: bool) -> None:
        """An empty pane invites a drop in two lines; one holding terms keeps a one-line button, so a term fits
        under it in a 720-px window without the strip scrolling."""
        self.zone.setText("+ Add…" if terms else "Drop a file\nor browse…")
        self.zone.setMinimumHeight(0 if terms else 48)

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
    """All panes, rendering ``query``; edits go to the query."""

    message = Signal(str)
    filesOffered = Signal(list, object)  # paths, the pane's modality (or None)

    def __init__(self, previews: PreviewLoader, query: Query, folders: LastFolders, parent: QWidget | None = None):
        super().__init__(parent)
        self.previews = previews
        self.query = query
        self.folders = folders
        self.panes: dict[Modality, DropPane] = {}
        self._widgets: list[TermWidget] = []
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        title = QHBoxLayout()
        title.addWidget(QLabel("<b>Query</b> — drop files of any modality; weights add (+) or subtract (−)"))
        title.addStretch(1)
        self.clear_button = QPushButton("Clear query")
        self.clear_button.clicked.connect(self.query.clear)
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
        query.changed.connect(self.show_terms)

    def terms(self) -> tuple[QueryTerm, ...]:
        return self.query.terms

    def show_terms(self, terms: tuple[QueryTerm, ...]) -> None:
        """Render the query: the same terms with other weights move their sliders, anything else is rebuilt."""
        same = len(terms) == len(self._widgets) and all(
            (w.composed.parts, w.composed.name) == (t.parts, t.name) for w, t in zip(self._widgets, terms, strict=True)
        )
        if same:
            for widget, term in zip(self._widgets, terms, strict=True):
                widget.show_weight(term)
            return
        for widget in self._widgets:
            widget.setParent(None)
            widget.deleteLater()
        self._widgets = []
        for index, term in enumerate(terms):
            widget = TermWidget(term, index, self.previews)
            widget.weightChanged.connect(self.query.set_weight)
            widget.dragEnded.connect(self.query.seal)
            widget.removed.connect(self.query.remove)
            self.panes[term.modality].terms.addWidget(widget)
            self._widgets.append(widget)
        held = {term.modality for term in terms}
        for modality, pane in self.panes.items():
            pane.hold(modality in held)

    def add_files(self, paths: list[str], pane_modality: Modality | None = None) -> None:
        """Offer files as terms; the window describes them off the GUI thread and calls ``add_described``."""
        if paths:
            self.filesOffered.emit([str(p) for p in paths], pane_modality)

    def add_described(self, described: list[DroppedFile], pane_modality: Modality | None = None) -> None:
        """Add described files as terms (one step of the history), each in the pane of its own modality; refuse
        files that cannot be read, with the reason."""
        added = []
        for file in described:
            if file.modality is None:
                self.message.emit(file.refusal)
                continue
            name = Path(file.path).name
            if pane_modality is not None and file.modality is not pane_modality:
                self.message.emit(f"{name} is {file.modality.label.lower()}: added to the {file.modality.label} pane")
            # A library file (unchanged) or a copy of one uses its stored embedding: the searcher sees to it.
            added.append(file_term(file.path, file.modality))
        if added:
            self.query.add(*added)

    def add_text(self, text: str, weight: float = 1.0) -> None:
        text = text.strip()
        if text:
            self.query.add(text_term(text, weight))

    def add_item(self, item_id: int, modality: Modality, name: str, source: str, weight: float = 1.0) -> None:
        self.query.add(item_term(item_id, modality, name, source, weight))

    def _add_typed_text(self) -> None:
        box = self.panes[Modality.TEXT].text
        self.add_text(box.text())
        box.clear()

    def _browse(self, modality: Modality) -> None:
        paths = self.folders.ask_open_many(
            self, "query", f"Add {modality.label.lower()} to the query", file_filter(modality)
        )
        self.add_files(paths, modality)
