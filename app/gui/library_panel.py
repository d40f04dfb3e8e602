"""The library sidebar: folders with their state and item counts, the model, failed files, and indexing.

Nothing here lists a million rows: folders are few, and failed files come a page at a time from
the engine (``FailedFiles`` asks for the rows scrolled to). A folder that is not reachable (an
unmounted drive) shows as offline with its items kept; a moved folder can be re-pointed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.colours import MODALITY_COLOURS
from engine.modality import Modality
from engine.workspace import Listing

if TYPE_CHECKING:
    from engine.workspace import Item, LibrarySummary

PAGE = 200
LISTING_ROLE = Qt.ItemDataRole.UserRole + 1  # the set a tree node opens in Browse: (title, Listing)
_STATE_TEXT = {
    "online": "",
    "missing": "offline: not found",
    "unreadable": "offline: no permission",
    "unmounted": "offline: drive not mounted",
}


def _count_text(row: dict[str, int]) -> str:
    parts = [f"{row.get('embedded', 0):,}"]
    if row.get("pending"):
        parts.append(f"{row['pending']:,} pending")
    if row.get("failed"):
        parts.append(f"{row['failed']:,} failed")
    return " · ".join(parts)


class FailedFiles(QAbstractTableModel):
    """The failed files, fetched a page at a time through ``fetch(offset, limit, deliver)`` as they scroll into view."""

    def __init__(self, fetch: Callable[[int, int, Callable[[int, list], None]], None], parent=None):
        super().__init__(parent)
        self._fetch = fetch
        self._total = 0
        self._rows: dict[int, Item] = {}
        self._asked: set[int] = set()
        self._generation = 0

    def reset(self, total: int) -> None:
        self.beginResetModel()
        self._total, self._rows, self._asked = total, {}, set()
        self._generation += 1
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else self._total

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else 2

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return ("File", "Reason")[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        item = self._rows.get(index.row())
        if item is None:
            self._ask(index.row() // PAGE * PAGE)
            return "…" if role == Qt.ItemDataRole.DisplayRole and index.column() == 0 else None
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name if index.column() == 0 else f"{item.error_kind}: {item.error}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return (item.path or item.text) if index.column() == 0 else item.error
        if role == Qt.ItemDataRole.UserRole:
            return item.path
        return None

    def _ask(self, offset: int) -> None:
        if offset in self._asked:
            return
        self._asked.add(offset)
        generation = self._generation
        self._fetch(offset, PAGE, lambda start, items: self._arrived(generation, start, items))

    def _arrived(self, generation: int, offset: int, items: list) -> None:
        if generation != self._generation:
            return
        for n, item in enumerate(items):
            self._rows[offset + n] = item
        if items:
            self.dataChanged.emit(self.index(offset, 0), self.index(offset + len(items) - 1, 1))


class LibraryPanel(QWidget):
    addFolder = Signal()
    rescan = Signal()
    cancel = Signal()
    removeRoot = Signal(int)
    moveRoot = Signal(int)
    forgetMissing = Signal()
    revealFailed = Signal(str)
    downloadModel = Signal()
    locateModel = Signal()
    browse = Signal(str, object)  # a node clicked: (title, Listing) to browse

    def __init__(self, fetch_failed: Callable[[int, int, Callable[[int, list], None]], None], parent=None):
        super().__init__(parent)
        self.setMinimumWidth(230)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.title = QLabel("<b>No library open</b>")
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.model_banner = self._banner()
        layout.addWidget(self.model_banner)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add folder…")
        self.add_button.setToolTip("Add a folder of files to the library (Ctrl+Shift+A)")
        self.add_button.clicked.connect(self.addFolder)
        self.rescan_button = QPushButton("Re-scan")
        self.rescan_button.setToolTip("Look for new, changed and removed files (F5)")
        self.rescan_button.clicked.connect(self.rescan)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.rescan_button)
        layout.addLayout(buttons)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Folder / modality", "Items"])
        header = self.tree.header()  # names take what the counts leave: "Outside the folders" was cut at 130 px
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setRootIsDecorated(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for text, handler in (
            ("Folder moved… (point to where it is now)", lambda: self._emit_root(self.moveRoot)),
            ("Remove folder from library", lambda: self._emit_root(self.removeRoot)),
            ("Forget files that were deleted", self.forgetMissing.emit),
        ):
            action = QAction(text, self.tree)
            action.triggered.connect(handler)
            self.tree.addAction(action)
        self.tree.itemClicked.connect(self._open_node)
        self.tree.itemActivated.connect(self._open_node)
        layout.addWidget(self.tree, 3)
        self.failed_label = QLabel("<b>Failed files</b>")
        layout.addWidget(self.failed_label)
        self.failed_model = FailedFiles(fetch_failed, self)
        self.failed = QTableView()
        self.failed.setModel(self.failed_model)
        self.failed.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.failed.setWordWrap(False)
        self.failed.verticalHeader().hide()
        self.failed.verticalHeader().setDefaultSectionSize(20)
        self.failed.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.failed.horizontalHeader().setStretchLastSection(True)
        self.failed.setColumnWidth(0, 110)
        self.failed.doubleClicked.connect(
            lambda index: self.revealFailed.emit(self.failed_model.data(index, Qt.ItemDataRole.UserRole) or "")
        )
        layout.addWidget(self.failed, 2)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop indexing; finished batches are kept (Esc)")
        self.cancel_button.clicked.connect(self.cancel)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_host = QWidget()
        self.progress_host.setLayout(progress_row)
        self.progress_host.hide()
        layout.addWidget(self.progress_host)
        self.set_enabled(False)

    def _banner(self) -> QWidget:
        """Shown when the library's model is not on this machine: what works, and how to get the model."""
        host = QWidget()
        host.setObjectName("modelBanner")
        host.setStyleSheet("#modelBanner { background: palette(alternate-base); border-radius: 4px; }")
        column = QVBoxLayout(host)
        column.setContentsMargins(6, 4, 6, 4)
        self.model_message = QLabel()
        self.model_message.setWordWrap(True)
        column.addWidget(self.model_message)
        row = QHBoxLayout()
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.downloadModel)
        self.locate_button = QPushButton("Locate checkpoint…")
        self.locate_button.clicked.connect(self.locateModel)
        row.addWidget(self.download_button)
        row.addWidget(self.locate_button)
        row.addStretch(1)
        column.addLayout(row)
        host.hide()
        return host

    def set_enabled(self, enabled: bool) -> None:
        self.add_button.setEnabled(enabled)
        self.rescan_button.setEnabled(enabled)

    def show_summary(self, summary: LibrarySummary) -> None:
        self.set_enabled(not summary.read_only)
        readonly = " · read-only" if summary.read_only else ""
        reembedding = f"<br><small>re-embedding with {summary.reembedding}…</small>" if summary.reembedding else ""
        self.title.setText(
            f"<b>{Path(summary.folder).name}</b><br><small>{summary.folder}{readonly}</small>{reembedding}"
        )
        self._show_model(summary)
        self.tree.clear()
        if not summary.roots and not summary.outside:
            placeholder = QTreeWidgetItem(["Add a folder to start", ""])
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.tree.addTopLevelItem(placeholder)
        for root in summary.roots:
            total = sum(sum(row.values()) for row in root.counts.values())
            state = _STATE_TEXT.get(root.state, root.state)
            offline = f" · {root.offline:,} offline" if root.offline and root.state == "online" else ""
            node = QTreeWidgetItem([Path(root.path).name or root.path, f"{total:,}{offline}"])
            node.setToolTip(0, root.path + (f"\n{state}: its items are kept" if state else ""))
            node.setData(0, Qt.ItemDataRole.UserRole, root.id)
            node.setData(0, LISTING_ROLE, (Path(root.path).name or root.path, Listing(folder=root.id)))
            if state:
                node.setText(0, f"{node.text(0)} ({state})")
                node.setForeground(0, QBrush(QColor("#888888")))
            self._add_group(node, root.counts, Listing(folder=root.id))
        if summary.outside:
            total = sum(sum(row.values()) for row in summary.outside.values())
            node = QTreeWidgetItem(["Outside the folders", f"{total:,}"])
            node.setToolTip(
                0, "Imported embeddings and texts that belong to no folder of this library: searchable and on the map"
            )
            node.setData(0, LISTING_ROLE, ("Outside the folders", Listing(outside=True)))
            self._add_group(node, summary.outside, Listing(outside=True))
        for text, count, listing in (
            ("Failed", summary.failed, Listing(status="failed")),
            ("Offline", summary.offline, Listing(offline=True)),
        ):
            if count:
                node = QTreeWidgetItem([text, f"{count:,}"])
                node.setToolTip(0, f"Browse the {text.lower()} items")
                node.setData(0, LISTING_ROLE, (f"{text} items", listing))
                self.tree.addTopLevelItem(node)
        if summary.segments:
            self._add_moments(summary.segments)
        self.failed_model.reset(summary.failed)
        self.failed_label.setText(
            f"<b>Failed files</b> ({summary.failed:,})" if summary.failed else "<b>Failed files</b> (none)"
        )

    def _add_moments(self, segments: dict[str, int]) -> None:
        """A node counting the windows of long recordings, per modality: what the Moments search ranks."""
        node = QTreeWidgetItem(["Moments", f"{sum(segments.values()):,}"])
        node.setToolTip(0, "Windows of long audio, video and IMU recordings, searchable with the Moments button")
        for modality in Modality:
            if segments.get(modality.value):
                child = QTreeWidgetItem([f"● {modality.label}", f"{segments[modality.value]:,}"])
                child.setForeground(0, QBrush(QColor(MODALITY_COLOURS[modality])))
                node.addChild(child)
        self.tree.addTopLevelItem(node)

    def _add_group(self, node: QTreeWidgetItem, counts: dict[str, dict[str, int]], listing: Listing) -> None:
        """A top-level node with a child per modality (embedded · pending · failed); each opens its set in Browse."""
        title = node.text(0)
        for modality in Modality:
            row = counts.get(modality.value)
            if row:
                child = QTreeWidgetItem([f"● {modality.label}", _count_text(row)])
                child.setData(0, LISTING_ROLE, (f"{title} · {modality.label}", replace(listing, modality=modality)))
                child.setToolTip(1, "embedded · pending · failed")
                child.setForeground(0, QBrush(QColor(MODALITY_COLOURS[modality])))
                node.addChild(child)
        self.tree.addTopLevelItem(node)
        node.setExpanded(True)

    def _show_model(self, summary: LibrarySummary) -> None:
        state = summary.model
        missing = state.ref is not None and not state.available
        self.model_banner.setVisible(missing)
        if missing:
            self.model_message.setText(
                f"<b>{state.ref.title}</b> is not on this machine. Browsing, search by items, the map and saved "
                "labels work; text and file queries and indexing need the model."
            )
            self.download_button.setVisible(state.downloadable)

    def _open_node(self, node: QTreeWidgetItem, column: int = 0) -> None:
        chosen = node.data(0, LISTING_ROLE)
        if chosen is not None:
            self.browse.emit(*chosen)

    def _emit_root(self, signal) -> None:
        node = self.tree.currentItem()
        while node is not None and node.parent() is not None:
            node = node.parent()
        if node is not None and node.data(0, Qt.ItemDataRole.UserRole) is not None:
            signal.emit(int(node.data(0, Qt.ItemDataRole.UserRole)))

    def show_progress(self, text: str, done: int, total: int) -> None:
        self.progress_host.show()
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setFormat(f"{text}: {done:,} / {total:,}" if total else f"{text}: {done:,}…")

    def hide_progress(self) -> None:
        self.progress_host.hide()
