"""The browse grid (and list): any set of the library, a million rows deep, read a page at a time.

``BrowseModel`` is a flat Qt model whose row count is the set's size and whose rows come from the
window-free ``app.state.browse.Browse`` (which reads pages through jobs); thumbnails come from the
preview pool off the GUI thread and are drawn by ``CardDelegate`` into uniform tiles, so Qt lays
out a million rows without asking for any but the visible ones. Keys and clicks go to the set's
``Picks`` (one table of keys, ``app.gui.keys``) and the view mirrors them.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from PySide6.QtCore import QAbstractListModel, QItemSelection, QItemSelectionModel, QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QKeySequence, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.colours import MODALITY_COLOURS
from app.gui.keys import move_of, wants_preview
from app.gui.preview_view import PreviewView
from app.gui.previews import Preview, PreviewLoader
from app.state.browse import DENSITIES, Browse

ITEM_ROLE = Qt.ItemDataRole.UserRole
PIXMAPS_KEPT = 800
LIST_ROW = 44  # a row of the list view: a small thumbnail and two lines of text


class BrowseModel(QAbstractListModel):
    """Rows of the browsed set; a row not read yet shows as loading and is asked for by being painted."""

    def __init__(self, browse: Browse, previews: PreviewLoader, parent=None):
        super().__init__(parent)
        self.browse = browse
        self.previews = previews
        self.offline: set[int] = set()
        self._pixmaps: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self._painter = PreviewView()  # draws waveforms, channels and texts into thumbnails
        self._rows_of: dict[str, int] = {}
        browse.opened.connect(self._reset)
        browse.rows_arrived.connect(self._arrived)
        browse.density_changed.connect(lambda _: self._reset_pixmaps())
        previews.ready.connect(self._preview_ready)

    @property
    def side(self) -> int:
        return DENSITIES[self.browse.density][1]

    def _reset(self) -> None:
        self.beginResetModel()
        self._rows_of.clear()
        self.endResetModel()

    def _reset_pixmaps(self) -> None:
        self._pixmaps.clear()
        self.layoutChanged.emit()

    def rowCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else self.browse.total

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        item = self.browse.item(index.row())
        if role == ITEM_ROLE:
            return item
        if item is None:
            return "…" if role == Qt.ItemDataRole.DisplayRole else None
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.path or item.text
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnail(index.row(), item)
        return None

    def thumbnail(self, row: int, item, side: int | None = None) -> QPixmap | None:
        """The item's thumbnail at ``side`` pixels, or None while the preview pool makes it."""
        side = side or self.side
        key = self.previews.key(item.source, item.modality)
        cached = self._pixmaps.get((key, side))
        if cached is not None:
            self._pixmaps.move_to_end((key, side))
            return cached
        if item.id in self.offline:
            preview = Preview(item.modality, error="offline")
        else:
            preview = self.previews.request(item.source, item.modality)
        if preview is None:
            self._rows_of[key] = row
            return None
        self._painter.resize(side, side * 3 // 4)
        self._painter.set_preview(preview)
        pixmap = self._painter.grab()
        self._pixmaps[(key, side)] = pixmap
        while len(self._pixmaps) > PIXMAPS_KEPT:
            self._pixmaps.popitem(last=False)
        return pixmap

    def _arrived(self, first: int, count: int) -> None:
        if count:
            self.dataChanged.emit(self.index(first), self.index(first + count - 1))

    def _preview_ready(self, key: str, preview: Preview) -> None:
        row = self._rows_of.pop(key, None)
        if row is not None and row < self.browse.total:
            self.dataChanged.emit(self.index(row), self.index(row))


class CardDelegate(QStyledItemDelegate):
    """A tile (thumbnail over name and score) in the grid, a row (thumbnail beside name and path) in the list."""

    def __init__(self, model: BrowseModel, parent=None):
        super().__init__(parent)
        self.model = model
        self.list_mode = False

    def sizeHint(self, option, index) -> QSize:
        side = self.model.side
        if self.list_mode:
            return QSize(option.rect.width() or 400, LIST_ROW)
        return QSize(side + 12, side * 3 // 4 + 44)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        rect = option.rect.adjusted(3, 3, -3, -3)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight).lighter(160))
        if option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
        item = index.data(ITEM_ROLE)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        if item is None:
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "…")
            painter.restore()
            return
        score = self.model.browse.score(item)
        score_text = "" if math.isnan(score) else f"{score:.3f}"
        if self.list_mode:
            picture = QRect(rect.x() + 2, rect.y() + 1, (rect.height() - 2) * 4 // 3, rect.height() - 2)
            text = rect.adjusted(picture.width() + 10, 2, -4, -2)
            top, bottom = text.adjusted(0, 0, 0, -text.height() // 2), text.adjusted(0, text.height() // 2, 0, 0)
            self._picture(painter, picture, index.row(), item, 96)
            self._line(painter, palette, top, item.name, item, score_text, bold=True)
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            metrics = painter.fontMetrics()
            painter.drawText(
                bottom,
                Qt.AlignmentFlag.AlignVCenter,
                metrics.elidedText(item.path or "", Qt.TextElideMode.ElideMiddle, bottom.width()),
            )
        else:
            side = self.model.side
            picture = QRect(rect.x() + 3, rect.y() + 3, rect.width() - 6, side * 3 // 4)
            self._picture(painter, picture, index.row(), item, side)
            line = QRect(rect.x() + 4, picture.bottom() + 4, rect.width() - 8, 18)
            self._line(painter, palette, line, item.modality.label, item, score_text)
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            name = line.translated(0, 18)
            painter.drawText(
                name,
                Qt.AlignmentFlag.AlignVCenter,
                painter.fontMetrics().elidedText(item.name, Qt.TextElideMode.ElideMiddle, name.width()),
            )
        painter.restore()

    def _picture(self, painter: QPainter, area: QRect, row: int, item, side: int) -> None:
        pixmap = self.model.thumbnail(row, item, side)
        if pixmap is None:
            painter.fillRect(area, QColor(128, 128, 128, 40))
            return
        scaled = pixmap.scaled(
            area.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        painter.drawPixmap(
            area.x() + (area.width() - scaled.width()) // 2, area.y() + (area.height() - scaled.height()) // 2, scaled
        )

    @staticmethod
    def _line(
        painter: QPainter, palette: QPalette, area: QRect, text: str, item, score: str, bold: bool = False
    ) -> None:
        """A modality-coloured dot and ``text`` on the left, the score on the right."""
        font = painter.font()
        font.setBold(bold)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        room = area.width() - metrics.horizontalAdvance(score) - 6
        painter.setPen(QColor(MODALITY_COLOURS[item.modality]))
        painter.drawText(area, Qt.AlignmentFlag.AlignVCenter, "●")
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        shown = metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, room - 14)
        painter.drawText(area.adjusted(14, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, shown)
        painter.drawText(area, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, score)
        font.setBold(False)
        painter.setFont(font)


class BrowseGrid(QListView):
    """The uniform tiles of a set, walked by the grid keys; Enter or Space asks for the large preview."""

    def __init__(self, model: BrowseModel, parent=None):
        super().__init__(parent)
        self.browse = model.browse
        self.setModel(model)
        self.delegate = CardDelegate(model, self)
        self.setItemDelegate(self.delegate)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMouseTracking(False)
        self.on_preview = lambda row: None  # the panel's: open the large preview of a row
        self.on_copy = lambda: None  # the panel's: copy the picked paths
        self.set_list_mode(False)
        self.browse.picks.changed.connect(self._mirror)
        self.browse.density_changed.connect(lambda _: self.set_list_mode(self.delegate.list_mode))

    def set_list_mode(self, list_mode: bool) -> None:
        self.delegate.list_mode = list_mode
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.TopToBottom if list_mode else QListView.Flow.LeftToRight)
        self.setWrapping(not list_mode)
        self.setSpacing(0 if list_mode else 2)
        side = self.model().side
        self.setGridSize(QSize() if list_mode else QSize(side + 16, side * 3 // 4 + 50))
        self.scheduleDelayedItemsLayout()

    def columns(self) -> int:
        if self.delegate.list_mode:
            return 1
        return max(1, self.viewport().width() // max(1, self.gridSize().width()))

    def rows_per_page(self) -> int:
        height = LIST_ROW if self.delegate.list_mode else self.gridSize().height()
        return max(1, self.viewport().height() // max(1, height))

    def keyPressEvent(self, event) -> None:
        move = move_of(event)
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if move is not None:
            self.browse.picks.move(move, self.columns(), self.rows_per_page(), shift=shift)
        elif wants_preview(event) and self.browse.picks.current >= 0:
            self.on_preview(self.browse.picks.current)
        elif event.matches(QKeySequence.StandardKey.SelectAll):
            self.select_all()
        elif event.matches(QKeySequence.StandardKey.Copy):
            self.on_copy()
        else:
            super().keyPressEvent(event)

    def select_all(self) -> None:
        picks = self.browse.picks
        if picks.total:
            picks.click(0)
            picks.click(picks.total - 1, shift=True)

    def mousePressEvent(self, event) -> None:
        index = self.indexAt(event.position().toPoint())
        if not index.isValid():
            return
        self.setFocus()
        modifiers = event.modifiers()
        self.browse.picks.click(
            index.row(),
            ctrl=bool(modifiers & Qt.KeyboardModifier.ControlModifier),
            shift=bool(modifiers & Qt.KeyboardModifier.ShiftModifier),
        )

    def mouseMoveEvent(self, event) -> None:
        """Dragging does not select (selections are made by clicks and keys, as the picks say)."""

    def mouseDoubleClickEvent(self, event) -> None:
        index = self.indexAt(event.position().toPoint())
        if index.isValid():
            self.on_preview(index.row())

    def _mirror(self) -> None:
        """Show the picks: the selection as runs of rows, the current row in view."""
        picks, model = self.browse.picks, self.model()
        selection = QItemSelection()
        rows = sorted(picks.selected)
        start = None
        for n, row in enumerate(rows):
            if start is None:
                start = row
            if n + 1 == len(rows) or rows[n + 1] != row + 1:
                selection.select(model.index(start), model.index(row))
                start = None
        flags = QItemSelectionModel.SelectionFlag
        self.selectionModel().select(selection, flags.ClearAndSelect)
        if picks.current >= 0:
            current = model.index(picks.current)
            self.selectionModel().setCurrentIndex(current, flags.NoUpdate)
            self.scrollTo(current)
