"""The browse grid (and list): any set of the library, a million rows deep, read a page at a time.

``BrowseModel`` is a flat Qt model whose row count is the set's size and whose rows come from the
window-free ``app.state.browse.Browse`` (which reads pages through jobs); thumbnails come from the
preview pool off the GUI thread and are drawn by ``CardDelegate`` into uniform tiles that
``BrowseGrid`` places by arithmetic, so a million rows are neither laid out nor asked for, only
the visible ones. Keys and clicks go to the set's
``Picks`` (one table of keys, ``app.gui.keys``) and the view mirrors them.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QKeySequence, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QAbstractScrollArea, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.colours import MODALITY_COLOURS
from app.gui.keys import move_of, wants_preview
from app.gui.preview_view import PreviewView
from app.gui.previews import Preview, PreviewLoader
from app.state.browse import DENSITIES, Browse
from engine.modality import Modality
from engine.workspace import THUMBNAIL

PICTURES = frozenset({Modality.VISION, Modality.DEPTH, Modality.THERMAL})  # decoded to pixels: worth a larger one

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

    def preview_size(self, side: int, modality: Modality) -> int | None:
        """The longest side to decode a picture at for a card ``side`` wide: None (the usual thumbnail) up to its
        size, the card's own device pixels above it (Large), so a large card is not an upscaled thumbnail."""
        if side <= THUMBNAIL or modality not in PICTURES:
            return None
        return math.ceil(side * self._painter.devicePixelRatioF())

    def thumbnail(self, row: int, item, side: int | None = None) -> QPixmap | None:
        """The item's thumbnail at ``side`` pixels, or None while the preview pool makes it."""
        side = side or self.side
        size = self.preview_size(side, item.modality)
        key = self.previews.key(item.source, item.modality, size)
        cached = self._pixmaps.get((key, side))
        if cached is not None:
            self._pixmaps.move_to_end((key, side))
            return cached
        if item.id in self.offline:
            preview = Preview(item.modality, error="offline")
        else:
            preview = self.previews.request(item.source, item.modality, size)
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


class BrowseGrid(QAbstractScrollArea):
    """Uniform tiles placed by arithmetic: a row's place is its number, so a million rows cost nothing to lay out
    (Qt's list view lays out every row first: seconds at a million) and only the visible ones are asked for.
    Keys and clicks go to the set's picks; Enter or Space asks for the large preview."""

    def __init__(self, model: BrowseModel, parent=None):
        super().__init__(parent)
        self._model = model
        self.browse = model.browse
        self.delegate = CardDelegate(model, self)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.on_preview = lambda row: None  # the panel's: open the large preview of a row
        self.on_copy = lambda: None  # the panel's: copy the picked paths
        self.verticalScrollBar().valueChanged.connect(self.viewport().update)
        model.modelReset.connect(self._relayout)
        model.layoutChanged.connect(self._relayout)
        model.dataChanged.connect(lambda *_: self.viewport().update())
        self.browse.picks.changed.connect(self._follow)
        self.browse.density_changed.connect(lambda _: self._relayout())

    def model(self) -> BrowseModel:
        return self._model

    def set_list_mode(self, list_mode: bool) -> None:
        self.delegate.list_mode = list_mode
        self._relayout()

    # -- geometry ---------------------------------------------------------------------------------

    def tile(self) -> QSize:
        if self.delegate.list_mode:
            return QSize(self.viewport().width(), LIST_ROW)
        side = self._model.side
        return QSize(side + 16, side * 3 // 4 + 50)

    def columns(self) -> int:
        return max(1, self.viewport().width() // max(1, self.tile().width()))

    def rows_per_page(self) -> int:
        return max(1, self.viewport().height() // self.tile().height())

    def visual_rect(self, row: int) -> QRect:
        """Where ``row`` is drawn, in viewport coordinates."""
        tile, columns = self.tile(), self.columns()
        top = (row // columns) * tile.height() - self.verticalScrollBar().value()
        return QRect((row % columns) * tile.width(), top, tile.width(), tile.height())

    def row_at(self, point) -> int:
        """The row under a viewport point, or -1."""
        tile, columns = self.tile(), self.columns()
        column = point.x() // tile.width()
        row = (point.y() + self.verticalScrollBar().value()) // tile.height() * columns + column
        return row if column < columns and 0 <= row < self.browse.total else -1

    def _relayout(self) -> None:
        lines = -(-self.browse.total // self.columns())
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, lines * self.tile().height() - self.viewport().height()))
        bar.setPageStep(self.viewport().height())
        bar.setSingleStep(self.tile().height() // 3)
        self.viewport().update()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relayout()

    def scroll_to(self, row: int) -> None:
        rect = self.visual_rect(row)
        bar = self.verticalScrollBar()
        if rect.top() < 0:
            bar.setValue(bar.value() + rect.top())
        elif rect.bottom() > self.viewport().height():
            bar.setValue(bar.value() + rect.bottom() - self.viewport().height() + 1)

    # -- painting -----------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        painter = QPainter(self.viewport())
        tile, columns = self.tile(), self.columns()
        offset = self.verticalScrollBar().value()
        first = offset // tile.height() * columns
        last = min(self.browse.total, (offset + self.viewport().height()) // tile.height() * columns + columns)
        picks = self.browse.picks
        option = QStyleOptionViewItem()
        option.initFrom(self)
        for row in range(first, last):
            option.rect = self.visual_rect(row)
            option.state = QStyle.StateFlag.State_Enabled
            if row in picks.selected:
                option.state |= QStyle.StateFlag.State_Selected
            if row == picks.current and self.hasFocus():
                option.state |= QStyle.StateFlag.State_HasFocus
            self.delegate.paint(painter, option, self._model.index(row))
        painter.end()

    # -- keys and clicks ------------------------------------------------------------------------------

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
        row = self.row_at(event.position().toPoint())
        self.setFocus()
        if row >= 0:
            modifiers = event.modifiers()
            self.browse.picks.click(
                row,
                ctrl=bool(modifiers & Qt.KeyboardModifier.ControlModifier),
                shift=bool(modifiers & Qt.KeyboardModifier.ShiftModifier),
            )

    def mouseDoubleClickEvent(self, event) -> None:
        row = self.row_at(event.position().toPoint())
        if row >= 0:
            self.on_preview(row)

    def _follow(self) -> None:
        if self.browse.picks.current >= 0:
            self.scroll_to(self.browse.picks.current)
        self.viewport().update()
