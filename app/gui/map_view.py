"""The map: the library's UMAP as a pyqtgraph scatter, coloured by modality (or cluster).

One scatter item per colour keeps 100k points smooth to pan and zoom. Hovering shows a
preview; clicking selects a point and asks for its neighbours; box or lasso selection can
filter the results grid or become a query (the mean of the selection); the current query is
drawn as a star.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.colours import MODALITY_COLOURS, cluster_colour
from app.gui.preview_view import PreviewView
from app.gui.previews import Preview, PreviewLoader
from engine.modality import Modality

if TYPE_CHECKING:
    from app.gui.session import MapData

PAN, BOX, LASSO = "pan", "box", "lasso"


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule, vectorised over points: [N, 2] x [M, 2] -> [N] bool."""
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), dtype=bool)
    j = len(polygon) - 1
    for i in range(len(polygon)):
        xi, yi = polygon[i]
        xj, yj = polygon[j]
        crosses = ((yi > y) != (yj > y)) & (x < (xj - xi) * (y - yi) / ((yj - yi) or 1e-12) + xi)
        inside ^= crosses
        j = i
    return inside


class SelectingViewBox(pg.ViewBox):
    """A ViewBox whose left drag pans, or draws a selection box or lasso, by mode."""

    selected = Signal(object)  # [M, 2] polygon in data coordinates

    def __init__(self):
        super().__init__()
        self.mode = PAN
        self._path: list[QPointF] = []
        self._outline = QGraphicsPathItem()
        self._outline.setPen(QPen(QColor("#888888"), 0, Qt.PenStyle.DashLine))
        self._outline.setZValue(1000)
        self.addItem(self._outline, ignoreBounds=True)

    def mouseDragEvent(self, event, axis=None) -> None:
        if self.mode == PAN or event.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(event, axis)
            return
        event.accept()
        here = self.mapSceneToView(event.scenePos())
        if event.isStart():
            self._path = [self.mapSceneToView(event.buttonDownScenePos())]
        if self.mode == BOX:
            start = self._path[0]
            self._path = [start, QPointF(here.x(), start.y()), here, QPointF(start.x(), here.y())]
        else:
            self._path.append(here)
        outline = QPainterPath(self._path[0])
        for point in self._path[1:]:
            outline.lineTo(point)
        outline.closeSubpath()
        self._outline.setPath(outline)
        if event.isFinish():
            polygon = np.array([[p.x(), p.y()] for p in self._path])
            self._outline.setPath(QPainterPath())
            if len(polygon) >= 3:
                self.selected.emit(polygon)


class MapView(QWidget):
    itemClicked = Signal(int)
    filterToSelection = Signal(list)
    searchSelection = Signal(list)
    recolour = Signal(str)  # "modality" or a clustering method

    def __init__(self, previews: PreviewLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.previews = previews
        self.data: MapData | None = None
        self._ids = np.zeros(0, np.int64)
        self._coords = np.zeros((0, 2), np.float32)
        self._selection: list[int] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        tools = QHBoxLayout()
        self.modes = QButtonGroup(self)
        for mode, text, tip in (
            (PAN, "Pan", "Drag to pan, wheel to zoom"),
            (BOX, "Box", "Drag a box to select"),
            (LASSO, "Lasso", "Draw around points to select"),
        ):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setChecked(mode == PAN)
            button.clicked.connect(lambda _=False, m=mode: self.set_mode(m))
            self.modes.addButton(button)
            tools.addWidget(button)
        tools.addSpacing(8)
        tools.addWidget(QLabel("Colour:"))
        self.colouring = QComboBox()
        self.colouring.addItem("by modality", "modality")
        self.colouring.addItem("by cluster (k-means)", "kmeans")
        self.colouring.addItem("by cluster (HDBSCAN)", "hdbscan")
        self.colouring.currentIndexChanged.connect(lambda *_: self.recolour.emit(self.colouring.currentData()))
        tools.addWidget(self.colouring)
        tools.addStretch(1)
        self.status = QLabel()
        tools.addWidget(self.status)
        layout.addLayout(tools)
        self.viewbox = SelectingViewBox()
        self.viewbox.setAspectLocked(True)
        self.viewbox.selected.connect(self._select_polygon)
        self.plot = pg.PlotWidget(viewBox=self.viewbox, background=self.palette().base().color())
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMenuEnabled(False)
        self.legend = self.plot.addLegend(
            offset=(8, 8), labelTextColor=self.palette().text().color(), brush=self.palette().base().color()
        )
        layout.addWidget(self.plot, 1)
        selection = QHBoxLayout()
        self.selection_label = QLabel()
        selection.addWidget(self.selection_label, 1)
        self.filter_button = QPushButton("Show selection in results")
        self.filter_button.clicked.connect(lambda: self.filterToSelection.emit(self._selection))
        self.search_button = QPushButton("Search by selection")
        self.search_button.setToolTip("Use the mean of the selected items as the query")
        self.search_button.clicked.connect(lambda: self.searchSelection.emit(self._selection))
        clear = QPushButton("Clear")
        clear.clicked.connect(lambda: self.set_selection([]))
        for button in (self.filter_button, self.search_button, clear):
            selection.addWidget(button)
        self.selection_bar = QWidget()
        self.selection_bar.setLayout(selection)
        self.selection_bar.hide()
        layout.addWidget(self.selection_bar)
        self._layers: list[pg.ScatterPlotItem] = []
        self._highlight = pg.ScatterPlotItem(size=11, pen=pg.mkPen("#ffffff", width=1.5), brush=pg.mkBrush(0, 0, 0, 0))
        self._query = pg.ScatterPlotItem(
            size=22, symbol="star", pen=pg.mkPen("#000000", width=1), brush=pg.mkBrush("#FFD700")
        )
        self._query.setZValue(20)
        self._highlight.setZValue(10)
        self.plot.addItem(self._highlight)
        self.plot.addItem(self._query)
        self.hover = _HoverCard(self)
        self.empty = QLabel("The map appears once the library has embedded items.", self.plot)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: palette(placeholder-text); background: transparent;")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.empty.setGeometry(self.plot.rect())

    def set_mode(self, mode: str) -> None:
        self.viewbox.mode = mode

    def set_data(self, data: MapData | None) -> None:
        """Draw a projection (one layer per colour, each in the legend) and fit the view to it."""
        self.data = data
        for layer in self._layers:
            self.plot.removeItem(layer)
        self._layers = []
        self.legend.clear()
        if data is None or not len(data.projection):
            self._ids, self._coords = np.zeros(0, np.int64), np.zeros((0, 2), np.float32)
            self.empty.show()
            self.status.setText("")
            return
        self.empty.hide()
        projection = data.projection
        self._ids, self._coords = projection.ids, projection.coords
        many = len(self._ids) > 20_000
        size = 4 if many else 7
        if data.clusters is not None:
            groups = [
                (
                    f"cluster {c}" + (f": {data.cluster_names[c][0][0]}" if c in data.cluster_names else ""),
                    cluster_colour(c),
                    data.clusters == c,
                )
                for c in sorted(set(data.clusters.tolist()))
            ]
        else:
            groups = [
                (
                    f"{m.label} ({int((projection.modalities == m.value).sum())})",
                    MODALITY_COLOURS[m],
                    projection.modalities == m.value,
                )
                for m in Modality
            ]
        for name, colour, mask in groups:
            if not mask.any():
                continue
            layer = pg.ScatterPlotItem(
                pos=self._coords[mask],
                size=size,
                pen=None,
                brush=pg.mkBrush(colour),
                antialias=not many,
                data=self._ids[mask],
                hoverable=True,
            )
            layer.sigClicked.connect(self._clicked)
            layer.sigHovered.connect(self._hovered)
            self.plot.addItem(layer)
            self.legend.addItem(layer, name)
            self._layers.append(layer)
        self.status.setText(
            f"{len(self._ids):,} items · {projection.method.upper()}"
            + (" (computing UMAP…)" if projection.method == "pca" else "")
        )
        self.plot.autoRange()
        present = set(self._ids.tolist())
        self.set_selection([i for i in self._selection if i in present])

    def set_query_point(self, point: tuple[float, float] | None) -> None:
        self._query.setData(pos=[point] if point is not None else [])

    def show_item(self, item_id: int) -> None:
        """Select one item and centre the view on it."""
        rows = np.flatnonzero(self._ids == item_id)
        if rows.size:
            self.set_selection([item_id])
            x, y = self._coords[rows[0]]
            span = max(float(np.ptp(self._coords[:, 0])), 1e-6) / 6
            self.viewbox.setRange(QRectF(x - span, y - span, 2 * span, 2 * span))

    def set_selection(self, ids: list[int]) -> None:
        self._selection = list(ids)
        mask = np.isin(self._ids, self._selection)
        self._highlight.setData(pos=self._coords[mask])
        self.selection_bar.setVisible(bool(self._selection))
        self.selection_label.setText(f"{len(self._selection)} selected")

    def _select_polygon(self, polygon: np.ndarray) -> None:
        inside = points_in_polygon(self._coords, polygon)
        self.set_selection(self._ids[inside].tolist())

    def _clicked(self, layer, points, event) -> None:
        if len(points):
            item_id = int(points[0].data())
            self.set_selection([item_id])
            self.itemClicked.emit(item_id)

    def _hovered(self, layer, points, event) -> None:
        if not len(points) or self.data is None:
            self.hover.hide()
            return
        item = self.data.items.get(int(points[0].data()))
        if item is None:
            return
        self.hover.show_item(item, self.previews, self.mapFromGlobal(self.cursor().pos()))


class _HoverCard(QFrame):
    """A small floating preview next to the cursor."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.preview = PreviewView(QSize(160, 110))
        self.label = QLabel()
        layout.addWidget(self.preview)
        layout.addWidget(self.label)
        self.resize(172, 150)
        self._key = ""
        self.hide()

    def show_item(self, item, previews: PreviewLoader, at) -> None:
        self.label.setText(f"<span style='color:{MODALITY_COLOURS[item.modality]}'>●</span> {item.name[:28]}")
        self._key = previews.key(item.source, item.modality)
        cached = previews.request(item.source, item.modality)
        self.preview.set_preview(cached)
        if cached is None:
            previews.ready.connect(self._ready, Qt.ConnectionType.UniqueConnection)
        x = min(at.x() + 16, self.parentWidget().width() - self.width())
        y = min(at.y() + 16, self.parentWidget().height() - self.height())
        self.move(max(0, x), max(0, y))
        self.show()
        self.raise_()

    def _ready(self, key: str, preview: Preview) -> None:
        if key == self._key:
            self.preview.set_preview(preview)
