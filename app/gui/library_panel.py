"""The library sidebar: roots with item counts per modality, failed files with their reasons, and indexing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.colours import MODALITY_COLOURS
from engine.modality import Modality

if TYPE_CHECKING:
    from app.gui.session import LibrarySummary


def _count_text(row: dict[str, int]) -> str:
    parts = [f"{row.get('embedded', 0)}"]
    if row.get("pending"):
        parts.append(f"{row['pending']} pending")
    if row.get("failed"):
        parts.append(f"{row['failed']} failed")
    return " · ".join(parts)


class LibraryPanel(QWidget):
    addFolder = Signal()
    rescan = Signal()
    cancel = Signal()
    removeRoot = Signal(int)
    revealFailed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumWidth(230)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.title = QLabel("<b>No library open</b>")
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
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
        self.tree.setColumnWidth(0, 130)
        self.tree.setRootIsDecorated(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        remove = QAction("Remove folder from library", self.tree)
        remove.triggered.connect(self._remove_selected_root)
        self.tree.addAction(remove)
        layout.addWidget(self.tree, 3)
        self.failed_label = QLabel("<b>Failed files</b>")
        layout.addWidget(self.failed_label)
        self.failed = QTreeWidget()
        self.failed.setHeaderLabels(["File", "Reason"])
        self.failed.setColumnWidth(0, 110)
        self.failed.itemDoubleClicked.connect(
            lambda item, _: self.revealFailed.emit(item.data(0, Qt.ItemDataRole.UserRole) or "")
        )
        layout.addWidget(self.failed, 2)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop indexing; finished batches are kept")
        self.cancel_button.clicked.connect(self.cancel)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_host = QWidget()
        self.progress_host.setLayout(progress_row)
        self.progress_host.hide()
        layout.addWidget(self.progress_host)
        self.set_enabled(False)

    def set_enabled(self, enabled: bool) -> None:
        self.add_button.setEnabled(enabled)
        self.rescan_button.setEnabled(enabled)

    def show_summary(self, summary: LibrarySummary) -> None:
        self.set_enabled(True)
        self.title.setText(f"<b>{Path(summary.folder).name}</b><br><small>{summary.folder}</small>")
        self.tree.clear()
        if not summary.roots:
            placeholder = QTreeWidgetItem(["Add a folder to start", ""])
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.tree.addTopLevelItem(placeholder)
        for root in summary.roots:
            total = sum(sum(row.values()) for row in root.counts.values())
            node = QTreeWidgetItem([Path(root.path).name or root.path, str(total)])
            node.setToolTip(0, root.path)
            node.setData(0, Qt.ItemDataRole.UserRole, root.id)
            for modality in Modality:
                row = root.counts.get(modality.value)
                if row:
                    child = QTreeWidgetItem([f"● {modality.label}", _count_text(row)])
                    child.setToolTip(1, "embedded · pending · failed")
                    child.setForeground(0, QBrush(QColor(MODALITY_COLOURS[modality])))
                    node.addChild(child)
            self.tree.addTopLevelItem(node)
            node.setExpanded(True)
        self.failed.clear()
        for item in summary.failed[:500]:
            row = QTreeWidgetItem([item.name, f"{item.error_kind}: {item.error}"])
            row.setToolTip(0, item.path or "")
            row.setToolTip(1, item.error or "")
            row.setData(0, Qt.ItemDataRole.UserRole, item.path)
            self.failed.addTopLevelItem(row)
        self.failed_label.setText(
            f"<b>Failed files</b> ({len(summary.failed)})" if summary.failed else "<b>Failed files</b> (none)"
        )

    def _remove_selected_root(self) -> None:
        node = self.tree.currentItem()
        while node is not None and node.parent() is not None:
            node = node.parent()
        if node is not None and node.data(0, Qt.ItemDataRole.UserRole) is not None:
            self.removeRoot.emit(int(node.data(0, Qt.ItemDataRole.UserRole)))

    def show_progress(self, text: str, done: int, total: int) -> None:
        self.progress_host.show()
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{text}: {done:,} / {total:,}" if total else f"{text}…")

    def hide_progress(self) -> None:
        self.progress_host.hide()
