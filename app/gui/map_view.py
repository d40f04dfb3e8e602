"""The map: the library's 2-D layout, smooth to pan and zoom at a million points.

Drawing costs what the view shows, never more. Zoomed out, the visible points are binned at the view's pixel
resolution (``np.bincount``: a count and three colour sums per pixel) into one image: each pixel takes the mean colour
of its points and an opacity that grows with their log count, so modalities keep their colours and clusters read as
blobs. Panning moves that image, computed with a margin, and recomputes it only when the view leaves it. Zoomed in to
at most ``POINT_LIMIT`` visible points, those are drawn as real dots, all in one ``drawPixmapFragments`` call. Hover,
click, box and lasso ask a ``PointIndex`` built once per data set; Shift adds what they cover to the selection and Ctrl
removes it. The selection is the state model's ``MapSelection``, which the map renders: a small one is ringed, a large
one keeps its colours and greys the rest. The map holds only ids, colours and coordinates: it announces the item under the cursor
by id (``hoverItem``) and the window answers with the item (``show_hover``) for the preview card.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.LegendItem import ItemSample
from pyqtgraph.graphicsItems.ScatterPlotItem import Symbols

# pyqtgraph's helper that hands QPainter a NumPy-backed array of fragments (PySide has no list overload).
from pyqtgraph.Qt.internals import PrimitiveArray
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel

from app.colours import MODALITY_COLOURS, NOISE_LABEL, cluster_colour
from app.gui.preview_view import PreviewView
from app.gui.previews import Preview, PreviewLoader
from app.state.map_selection import MapSelection, sorted_unique
from engine.modality import Modality

if TYPE_CHECKING:
    from engine.workspace import Item, MapData

PAN, BOX, LASSO = "pan", "box", "lasso"
EMPTY = "The map appears once the library has embedded items."
POINT_LIMIT = 20_000  # at most this many visible points are drawn as dots; more become a density image
RING_LIMIT = 2_000  # a selection up to this size is ringed; a larger one is shown by greying everything else
UNSELECTED = "#c4c4c4"
HOVER_PIXELS = 6  # how far from a point the cursor may be and still be on it
SHOW_NEIGHBOURS = 200  # "show on map" zooms so that about this many points surround the item
DOT_PIXELS = 7
RING_PIXELS = 13
STAR_PIXELS = 22
OPACITY_FLOOR = 0.35  # a pixel with one point is this opaque, so lone points stay visible
PAN_MARGIN = 0.25  # a density image drawn while panning covers this much of the view's size more on each side
OPACITY_FULL = 4  # a pixel holding this many times the mean count of the occupied pixels in view is fully opaque


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule: [N, 2] x [M, 2] -> [N] bool. Points are sorted by y so that each edge tests only its own rows."""
    order = np.argsort(points[:, 1], kind="stable")
    x, y = points[order, 0], points[order, 1]
    inside_sorted = np.zeros(len(points), dtype=bool)
    for (xi, yi), (xj, yj) in zip(polygon, np.roll(polygon, 1, axis=0), strict=True):
        if yi == yj:
            continue  # a horizontal edge crosses no horizontal ray
        start, stop = np.searchsorted(y, _search_keys(y, (min(yi, yj), max(yi, yj))))  # (yi > y) != (yj > y)
        rows = slice(int(start), int(stop))
        inside_sorted[rows] ^= x[rows] < (xj - xi) * (y[rows] - yi) / (yj - yi) + xi
    inside = np.empty(len(points), dtype=bool)
    inside[order] = inside_sorted
    return inside


def _search_keys(haystack: np.ndarray, keys) -> np.ndarray:
    """``keys`` in the haystack's dtype, rounded up where they fall between two of its values: searchsorted then finds
    the places the exact keys would, without copying a float32 haystack to float64 at every call."""
    exact = np.asarray(keys, dtype=np.float64)
    rounded = exact.astype(haystack.dtype)
    below = rounded < exact
    rounded[below] = np.nextafter(rounded[below], np.inf)
    return rounded


class PointIndex:
    """The points sorted by y, built once per data set. A horizontal band of the map is one contiguous slice of the
    sort (two binary searches), so what a view, a lasso or the cursor's surroundings cover costs only the points in
    their rows, never a pass over all N. Points are named by their position in the sort."""

    def __init__(self, ids: np.ndarray, coords: np.ndarray):
        self.order = np.argsort(coords[:, 1])
        self.ids = np.asarray(ids, dtype=np.int64)[self.order]
        self.x = np.ascontiguousarray(coords[self.order, 0], dtype=np.float32)
        self.y = np.ascontiguousarray(coords[self.order, 1], dtype=np.float32)
        self._by_id = np.argsort(self.ids)
        left, right = float(self.x.min()), float(self.x.max())
        self.bounds = QRectF(left, float(self.y[0]), right - left, float(self.y[-1] - self.y[0]))  # may be empty

    def __len__(self) -> int:
        return len(self.ids)

    def band(self, low: float, high: float) -> slice:
        """The points with low <= y < high."""
        start, stop = np.searchsorted(self.y, _search_keys(self.y, (low, high)))
        return slice(int(start), int(stop))

    def in_rect(self, rect: QRectF) -> np.ndarray:
        """Positions of the points with left <= x < right and top <= y < bottom, ascending."""
        band = self.band(rect.top(), rect.bottom())
        x = self.x[band]
        return band.start + np.flatnonzero((x >= rect.left()) & (x < rect.right()))

    def nearest(self, x: float, y: float, radius: float) -> int | None:
        """The position of the point nearest to (x, y), if one lies within ``radius``."""
        near = self.in_rect(QRectF(x - radius, y - radius, 2 * radius, 2 * radius))
        if not near.size:
            return None
        squared = (self.x[near] - np.float32(x)) ** 2 + (self.y[near] - np.float32(y)) ** 2
        best = int(np.argmin(squared))
        return int(near[best]) if squared[best] <= radius**2 else None

    def reach(self, x: float, y: float, count: int) -> float:
        """Half the side of a square centred on (x, y) that holds about ``count`` points (doubling from small), or
        all of them; a unit if they all lie on one spot."""
        extent = max(self.bounds.width(), self.bounds.height()) or 1.0
        count = min(count, len(self))
        half = extent / 4096
        while half < extent and len(self.in_rect(QRectF(x - half, y - half, 2 * half, 2 * half))) < count:
            half *= 2
        return half

    def in_polygon(self, polygon: np.ndarray) -> np.ndarray:
        """Positions of the points inside the polygon: only the points inside its bounding box are tested."""
        (x0, y0), (x1, y1) = polygon.min(axis=0), polygon.max(axis=0)
        band = self.band(y0, y1)
        x = self.x[band]
        candidates = np.flatnonzero((x >= x0) & (x < x1))
        inside = points_in_polygon(np.column_stack((x[candidates], self.y[band][candidates])), polygon)
        return band.start + candidates[inside]

    def positions_of(self, ids) -> np.ndarray:
        """Sorted positions of those ids that are on the map."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if not len(self) or not ids.size:
            return np.zeros(0, np.int64)
        found = np.minimum(np.searchsorted(self.ids, ids, sorter=self._by_id), len(self) - 1)
        positions = self._by_id[found]
        return sorted_unique(positions[self.ids[positions] == ids])


def density_image(x: np.ndarray, y: np.ndarray, channels: np.ndarray, view: QRectF, size: QSize) -> np.ndarray:
    """Premultiplied ARGB32 pixels [H, W] of the points in ``view``, one per screen pixel, row 0 at the view's lowest y.

    ``x, y`` are the points with view.top() <= y < view.bottom() (a band of the index), ``channels`` [3, n] their
    colours (red, green, blue in 0..1). A pixel takes the mean colour of its points and an opacity that grows with
    their log count: one count and three colour sums per pixel, each a ``np.bincount``, whatever the palette."""
    width, height = size.width(), size.height()
    columns = width + 2  # points left and right of the view land in two spare columns, dropped at the end
    column = (x - np.float32(view.left())) * np.float32(width / view.width())
    column += np.float32(1)
    np.clip(column, 0, columns - 1, out=column)
    row = (y - np.float32(view.top())) * np.float32(height / view.height())
    np.clip(row, 0, height - 1, out=row)
    pixel = row.astype(np.intp) * columns  # intp: what bincount indexes with, so its four calls convert nothing
    pixel += column.astype(np.intp)
    counts = np.bincount(pixel, minlength=height * columns)
    counts.reshape(height, columns)[:, [0, -1]] = 0
    occupied = np.flatnonzero(counts)
    count = counts[occupied].astype(np.float32)
    alpha = np.floor(_opacity(count) * 255)
    scale = alpha / count
    argb = alpha.astype(np.uint32) << 24
    for shift, channel in zip((16, 8, 0), channels, strict=True):
        sums = np.bincount(pixel, weights=channel, minlength=height * columns)[occupied]
        argb |= (sums * scale).astype(np.uint32) << shift
    image = np.zeros(height * columns, np.uint32)
    image[occupied] = argb
    return np.ascontiguousarray(image.reshape(height, columns)[:, 1:-1])


def _opacity(count: np.ndarray) -> np.ndarray:
    """Log count relative to the mean over the occupied pixels in view, so that blobs stay saturated at any zoom
    and lone points stay visible."""
    full = max(OPACITY_FULL * float(count.mean()), 1.0) if len(count) else 1.0
    opacity = np.minimum(np.log1p(count) * np.float32(1 / np.log1p(full)), 1)
    return opacity * np.float32(1 - OPACITY_FLOOR) + np.float32(OPACITY_FLOOR)


def _rgb(colour: str) -> tuple[float, float, float]:
    qcolour = QColor(colour)
    return qcolour.redF(), qcolour.greenF(), qcolour.blueF()


LEGEND_ENTRIES = 12  # the largest clusters are named in the legend; the rest are counted in one line
NO_SWATCH = "#00000000"  # the summary line names no colour
NOTE_COLUMNS = 38  # a legend line that explains says it in lines this long, so the legend stays narrow


def _colours(data: MapData) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """Each point's colour index, the palette, and the legend's (label, colour) entries."""
    projection = data.projection
    if data.clusters is None:
        codes = np.zeros(len(projection), np.uint8)
        palette, legend = [], []
        for modality in Modality:
            mask = projection.modalities == modality.value
            count = int(np.count_nonzero(mask))
            if count:
                codes[mask] = len(palette)
                palette.append(MODALITY_COLOURS[modality])
                legend.append((f"{modality.label} ({count:,})", MODALITY_COLOURS[modality]))
        return codes, palette, legend
    clusters, inverse, counts = np.unique(data.clusters, return_inverse=True, return_counts=True)
    colours = [cluster_colour(int(c)) for c in clusters]
    palette = list(dict.fromkeys(colours))
    codes = np.array([palette.index(c) for c in colours], np.uint8)[inverse.ravel()]
    names = unique_names(data.cluster_names)
    entries = []
    for cluster, colour, count in zip(clusters.tolist(), colours, counts.tolist(), strict=True):
        if cluster < 0:
            entries.append((count, f"{NOISE_LABEL} ({count:,})", colour))
        else:
            entries.append((count, f"cluster {cluster}" + (f": {names[cluster]}" if cluster in names else ""), colour))
    entries.sort(key=lambda entry: -entry[0])
    legend = [(label, colour) for _, label, colour in entries[:LEGEND_ENTRIES]]
    if len(entries) > LEGEND_ENTRIES:
        rest = entries[LEGEND_ENTRIES:]
        legend.append((f"… {len(rest)} smaller clusters ({sum(e[0] for e in rest):,} points)", NO_SWATCH))
    if data.clusters_note and not (data.clusters >= 0).any():  # on the map, not only in an elided status
        legend.append(("<br>".join(textwrap.wrap(html.escape(data.clusters_note), NOTE_COLUMNS)), NO_SWATCH))
    return codes, palette, legend


def _clusters_explained(data: MapData) -> str:
    if data.clusters is None:
        return ""
    return (
        f"Points in grey are {NOISE_LABEL}: HDBSCAN leaves points that lie in no dense region out of every cluster. "
        "When every point is unclustered the library has no dense regions at this scale; k-means always splits it."
    )


def unique_names(cluster_names: dict[int, list[tuple[str, float]]]) -> dict[int, str]:
    """One label per cluster, no label twice: the clusters most sure of a label take it first, the others their
    next best; a cluster whose every label is taken keeps its number only."""
    claims = sorted(
        ((score, cluster, label) for cluster, ranked in cluster_names.items() for label, score in ranked),
        key=lambda claim: -claim[0],
    )
    names: dict[int, str] = {}
    for _, cluster, label in claims:
        if cluster not in names and label not in names.values():
            names[cluster] = label
    return names


def _dot(colour: str) -> Callable[[QPainter], None]:
    def draw(painter: QPainter) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(colour))
        painter.drawEllipse(QPointF(0, 0), DOT_PIXELS / 2 - 0.5, DOT_PIXELS / 2 - 0.5)

    return draw


def _ring(painter: QPainter) -> None:
    """Dark outside, light inside: visible on light and dark themes and over any colour."""
    radius = RING_PIXELS / 2 - 1.5
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(QColor(0, 0, 0, 200), 2.6))
    painter.drawEllipse(QPointF(0, 0), radius, radius)
    painter.setPen(QPen(QColor("#ffffff"), 1.2))
    painter.drawEllipse(QPointF(0, 0), radius, radius)


def _star(painter: QPainter) -> None:
    painter.scale(STAR_PIXELS - 2, STAR_PIXELS - 2)
    painter.setPen(QPen(QColor("#000000"), 0))
    painter.setBrush(QColor("#FFD700"))
    painter.drawPath(Symbols["star"])


class Sprites(pg.GraphicsObject):
    """Small pictures (dots, rings, a star) centred on data positions, all drawn in one ``drawPixmapFragments`` call.

    Each point names its picture by index (``kinds``); the pictures live side by side in one atlas pixmap. The item
    covers the whole view, so a point is never clipped by a stale bounding box."""

    def __init__(self, side: int, pictures: list[Callable[[QPainter], None]]):
        super().__init__()
        self._side = side
        self._pictures = pictures
        self._atlas: QPixmap | None = None
        self._fragments = PrimitiveArray(QPainter.PixmapFragment, 10)
        self.x = np.zeros(0, np.float32)
        self.y = np.zeros(0, np.float32)
        self.kinds = np.zeros(0, np.uint8)
        self.ids = np.zeros(0, np.int64)  # the items drawn, when the points are items

    def set_pictures(self, pictures: list[Callable[[QPainter], None]]) -> None:
        self._pictures, self._atlas = pictures, None
        self.update()

    def set_points(self, x, y, kinds=None, ids=None) -> None:
        self.x = np.asarray(x, np.float32)
        self.y = np.asarray(y, np.float32)
        self.kinds = np.zeros(len(self.x), np.uint8) if kinds is None else np.asarray(kinds)
        self.ids = np.zeros(0, np.int64) if ids is None else np.asarray(ids, np.int64)
        self.update()

    def clear(self) -> None:
        if len(self.x):
            self.set_points([], [])

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()
        super().viewTransformChanged()

    def boundingRect(self) -> QRectF:
        view = self.viewRect()
        return QRectF() if view is None else view

    def _atlas_for(self, ratio: float) -> QPixmap:
        if self._atlas is None or self._atlas.devicePixelRatio() != ratio:
            side = round(self._side * ratio)
            atlas = QPixmap(side * len(self._pictures), side)
            atlas.fill(Qt.GlobalColor.transparent)
            painter = QPainter(atlas)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            for index, picture in enumerate(self._pictures):
                painter.save()
                painter.translate((index + 0.5) * side, side / 2)
                painter.scale(ratio, ratio)
                picture(painter)
                painter.restore()
            painter.end()
            atlas.setDevicePixelRatio(ratio)
            self._atlas = atlas
        return self._atlas

    def paint(self, painter: QPainter, option=None, widget: QWidget | None = None) -> None:
        if not len(self.x):
            return
        ratio = widget.devicePixelRatioF() if widget is not None else 1.0
        atlas = self._atlas_for(ratio)
        to_device = painter.transform()
        self._fragments.resize(len(self.x))
        fragments = self._fragments.ndarray()
        fragments[:, 0] = to_device.m11() * self.x + to_device.m21() * self.y + to_device.dx()
        fragments[:, 1] = to_device.m12() * self.x + to_device.m22() * self.y + to_device.dy()
        np.clip(fragments[:, :2], -(2**30), 2**30, out=fragments[:, :2])  # Qt crashes on coordinates near overflow
        side = atlas.height()
        fragments[:, 2] = self.kinds.astype(np.float64) * side
        fragments[:, 3] = 0
        fragments[:, 4:6] = side
        fragments[:, 6:8] = 1 / ratio
        fragments[:, 8:10] = (0, 1)
        painter.resetTransform()
        painter.drawPixmapFragments(*self._fragments.drawargs(), atlas)


class DensityImage(pg.GraphicsObject):
    """An image of the points computed for a view (or a view and a margin round it), one image pixel per screen pixel
    at that zoom; drawn in data coordinates, so a pan only moves it."""

    def __init__(self):
        super().__init__()
        self.pixels = np.zeros((0, 0), np.uint32)  # premultiplied ARGB32, row 0 at the rectangle's lowest y
        self.rect = QRectF()
        self.current = False  # False once the points or their colours change
        self._image: QImage | None = None

    def set_pixels(self, pixels: np.ndarray, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self.pixels, self.rect, self.current = pixels, QRectF(rect), True
        height, width = pixels.shape
        self._image = QImage(pixels.data, width, height, 4 * width, QImage.Format.Format_ARGB32_Premultiplied)
        self.update()

    def same_scale(self, view: QRectF, size: QSize) -> bool:
        """Whether one image pixel is one screen pixel of this view: it was computed for this zoom."""
        if not self.current or not self.pixels.size:
            return False
        height, width = self.pixels.shape
        return math.isclose(self.rect.width() / width, view.width() / size.width(), rel_tol=1e-6) and math.isclose(
            self.rect.height() / height, view.height() / size.height(), rel_tol=1e-6
        )

    def boundingRect(self) -> QRectF:
        return self.rect

    def paint(self, painter: QPainter, option=None, widget: QWidget | None = None) -> None:
        if self._image is not None:
            painter.drawImage(self.rect, self._image)


class _Swatch(ItemSample):
    """A legend key: a coloured dot. Clicking it hides nothing (the density image blends every colour) and selects
    nothing behind it."""

    def __init__(self, colour: str):
        super().__init__(None)
        self.colour = QColor(colour)

    def paint(self, painter: QPainter, *args) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour)
        painter.drawEllipse(QPointF(10, 10), 4.5, 4.5)

    def mouseClickEvent(self, event) -> None:
        event.accept()


def _edits(event) -> tuple[bool, bool]:
    """(shift, ctrl) of a mouse event: whether it adds to the selection or removes from it."""
    modifiers = event.modifiers()
    return bool(modifiers & Qt.KeyboardModifier.ShiftModifier), bool(modifiers & Qt.KeyboardModifier.ControlModifier)


class SelectingViewBox(pg.ViewBox):
    """A ViewBox whose left drag pans, or draws a selection box or lasso, by mode; a left click reports where. With
    Shift or Ctrl held a drag selects even in pan mode (a box), so adding to a selection never needs a mode change."""

    selected = Signal(object, bool, bool)  # [M, 2] polygon in data coordinates, shift, ctrl
    clicked = Signal(object, bool, bool)  # QPointF in data coordinates, shift, ctrl

    def __init__(self):
        super().__init__()
        self.mode = PAN
        self._drag_mode = PAN  # the mode of the drag under way
        self._path: list[QPointF] = []
        self._outline = QGraphicsPathItem()
        self._outline.setPen(QPen(QColor("#888888"), 0, Qt.PenStyle.DashLine))
        self._outline.setZValue(1000)
        self.addItem(self._outline, ignoreBounds=True)

    def mouseClickEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            event.accept()
            self.clicked.emit(self.mapSceneToView(event.scenePos()), *_edits(event))
        else:
            super().mouseClickEvent(event)

    def mouseDragEvent(self, event, axis=None) -> None:
        if event.isStart():  # the keys held as the drag starts say what it does
            self._drag_mode = BOX if self.mode == PAN and any(_edits(event)) else self.mode
        if self._drag_mode == PAN or event.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(event, axis)
            return
        event.accept()
        here = self.mapSceneToView(event.scenePos())
        if event.isStart():
            self._path = [self.mapSceneToView(event.buttonDownScenePos())]
        if self._drag_mode == BOX:
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
                self.selected.emit(polygon, *_edits(event))


class MapView(QWidget):
    itemClicked = Signal(int)
    hoverItem = Signal(int)  # the item now under the cursor; answer with show_hover(item)
    filterToSelection = Signal(list)
    searchSelection = Signal(list)
    recolour = Signal(str)  # "modality" or a clustering method

    def __init__(self, previews: PreviewLoader, parent: QWidget | None = None, selection: MapSelection | None = None):
        super().__init__(parent)
        self.previews = previews
        self.data: MapData | None = None
        self.map_selection = selection if selection is not None else MapSelection()
        self.map_selection.changed.connect(self._show_selection)
        self._index: PointIndex | None = None
        self._codes = np.zeros(0, np.uint8)  # each point's colour in the palette, in the index's order
        self._palette: list[str] = []
        self._kinds = np.zeros(0, np.uint8)  # the colour each point is drawn in: its own, or UNSELECTED (last)
        self._channels = np.zeros((3, 0))  # the same as red, green, blue in 0..1, for the density image
        self._selected = np.zeros(0, np.int64)  # positions in the index, ascending
        self._stale = False
        self._hovered: int | None = None
        self._hover_at = QPoint()
        self.hover = _HoverCard(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._toolbar())
        self.viewbox = SelectingViewBox()
        self.viewbox.setAspectLocked(True)
        self.viewbox.disableAutoRange()
        self.plot = pg.PlotWidget(viewBox=self.viewbox, background=self.palette().base().color())
        self.viewbox.selected.connect(self._select_polygon)
        self.viewbox.clicked.connect(self._click)
        self.viewbox.sigRangeChanged.connect(self._view_changed)
        self.viewbox.sigResized.connect(self._view_changed)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.scene().sigPrepareForPaint.connect(self._draw_visible)
        self.plot.viewport().installEventFilter(self)
        self.legend = self.plot.addLegend(
            offset=(8, 8),
            labelTextColor=self.palette().text().color(),
            brush=self.palette().base().color(),
            sampleType=_Swatch,
        )
        layout.addWidget(self.plot, 1)
        layout.addWidget(self._status_line())
        layout.addWidget(self._selection_bar())
        self.density = DensityImage()
        self.points = Sprites(DOT_PIXELS, [])
        self.rings = Sprites(RING_PIXELS, [_ring])
        self.star = Sprites(STAR_PIXELS, [_star])
        for z, item in enumerate((self.density, self.points, self.rings, self.star)):
            item.setZValue(z)
            self.plot.addItem(item, ignoreBounds=True)
        self.empty = QLabel(EMPTY, self.plot)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: palette(placeholder-text); background: transparent;")

    def _toolbar(self) -> QHBoxLayout:
        tools = QHBoxLayout()
        self.modes = QButtonGroup(self)
        self._mode_buttons: dict[str, QToolButton] = {}
        for mode, text, tip in (
            (PAN, "Pan", "Drag to pan, wheel to zoom; Shift+drag adds a box to the selection, Ctrl+drag removes one"),
            (BOX, "Box", "Drag a box to select; Shift adds to the selection, Ctrl removes from it"),
            (LASSO, "Lasso", "Draw around points to select; Shift adds to the selection, Ctrl removes from it"),
        ):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setChecked(mode == PAN)
            button.clicked.connect(lambda _=False, m=mode: self.set_mode(m))
            self.modes.addButton(button)
            self._mode_buttons[mode] = button
            tools.addWidget(button)
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Show the whole map (Home)")
        self.fit_button.setShortcut("Home")
        self.fit_button.clicked.connect(self.fit)
        tools.addWidget(self.fit_button)
        self.legend_button = QToolButton()
        self.legend_button.setText("Legend")
        self.legend_button.setToolTip("Show or hide the legend")
        self.legend_button.setCheckable(True)
        self.legend_button.setChecked(True)
        self.legend_button.toggled.connect(lambda on: self.legend.setVisible(on))
        tools.addWidget(self.legend_button)
        tools.addSpacing(8)
        self.colouring = QComboBox()
        self.colouring.addItem("by modality", "modality")
        self.colouring.addItem("by cluster (k-means)", "kmeans")
        self.colouring.addItem("by cluster (HDBSCAN)", "hdbscan")
        self.colouring.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.colouring.setMinimumContentsLength(10)
        self.colouring.setToolTip("Colour the points by modality or by cluster")
        self.colouring.currentIndexChanged.connect(lambda *_: self.recolour.emit(self.colouring.currentData()))
        tools.addWidget(self.colouring)
        tools.addStretch(1)
        return tools

    def _status_line(self) -> QElidingLabel:
        """The count and layout ("1,000,000 items · UMAP (computing UMAP…)") on a line of its own under the map:
        beside the tools a 1280-wide window left it 40 pixels ("145…"); it elides only when the dock is narrower."""
        self.status = QElidingLabel()  # never widens the window
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return self.status

    def _selection_bar(self) -> QWidget:
        bar = QHBoxLayout()
        self.selection_label = QElidingLabel()
        self.selection_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.selection_label, 1)
        self.filter_button = QPushButton("Show")  # short: the bar never widens the map's dock
        self.filter_button.setToolTip("Show the selected items in the results")
        self.filter_button.clicked.connect(lambda: self.filterToSelection.emit(self.selection))
        self.search_button = QPushButton("Search by it")
        self.search_button.setToolTip("Use the mean of the selected items as the query")
        self.search_button.clicked.connect(lambda: self.searchSelection.emit(self.selection))
        clear = QPushButton("Clear")
        clear.clicked.connect(self.map_selection.clear)
        for button in (self.filter_button, self.search_button, clear):
            bar.addWidget(button)
        self.selection_bar = QWidget()
        self.selection_bar.setLayout(bar)
        self.selection_bar.hide()
        return self.selection_bar

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.empty.setGeometry(self.plot.rect())

    def set_mode(self, mode: str) -> None:
        self.viewbox.mode = mode
        self._mode_buttons[mode].setChecked(True)

    # -- data ---------------------------------------------------------------------------------

    def set_data(self, data: MapData | None) -> None:
        """Show a projection, coloured by modality or cluster. A new layout is fitted to the view; recolouring the
        same layout keeps the view and reuses its index."""
        new_layout = data is None or self.data is None or data.projection is not self.data.projection
        self.data = data
        self.legend.clear()
        self._end_hover()
        if data is None or not len(data.projection):
            self._index = None
            self._codes, self._selected = np.zeros(0, np.uint8), np.zeros(0, np.int64)
            with self.map_selection.changed.blocked():  # no map: nothing selected; an empty one holds it aside
                if data is None:
                    self.map_selection.clear()
                else:
                    self.map_selection.keep_only(())
            self.density.hide()
            self.points.clear()
            self.rings.clear()
            self.selection_bar.hide()
            self.empty.setText(EMPTY if data is None else "No item on the map passes the filters.")
            self.empty.show()
            self.status.setText("")
            return
        self.empty.hide()
        projection = data.projection
        if new_layout:
            self._index = PointIndex(projection.ids, projection.coords)
        codes, self._palette, legend = _colours(data)
        self._codes = codes[self._index.order]
        self.points.set_pictures([_dot(colour) for colour in [*self._palette, UNSELECTED]])
        for label, colour in legend:
            self.legend.addItem(_Swatch(colour), label)
        self.status.setText(
            f"{len(projection):,} items · {projection.method.upper()}"
            + (" (computing UMAP…)" if projection.method == "pca" else "")
        )
        self.status.setToolTip(_clusters_explained(data))
        if data.clusters is not None and len(data.clusters) and bool((data.clusters < 0).all()):
            why = data.clusters_note or "no dense region at this scale"
            self.status.setText(f"{len(projection):,} items · no clusters found: every point is {NOISE_LABEL} ({why})")
            self.status.setToolTip(f"{why}.\n{_clusters_explained(data)}")
        with self.map_selection.changed.blocked():
            self.map_selection.keep_only(projection.ids)
        self._show_selection()
        if new_layout:
            self._fit()
        self._view_changed()

    def fit(self) -> None:
        """Show the whole map: the view a new layout opens with."""
        if self._index is not None:
            self._fit()

    def _fit(self) -> None:
        bounds = QRectF(self._index.bounds)
        if bounds.width() == 0 or bounds.height() == 0:
            bounds.adjust(-1, -1, 1, 1)
        self.viewbox.setRange(bounds, padding=0.04)

    def set_query_point(self, point: tuple[float, float] | None) -> None:
        if point is None:
            self.star.clear()
        else:
            self.star.set_points([point[0]], [point[1]])

    def show_item(self, item_id: int) -> None:
        """Select one item and zoom to it and its nearest neighbours."""
        if self._index is None:
            return
        positions = self._index.positions_of([item_id])
        if positions.size:
            self._select(positions, False, False)
            x, y = float(self._index.x[positions[0]]), float(self._index.y[positions[0]])
            half = self._index.reach(x, y, SHOW_NEIGHBOURS)
            self.viewbox.setRange(QRectF(x - half, y - half, 2 * half, 2 * half), padding=0)

    # -- selection ----------------------------------------------------------------------------

    @property
    def selection(self) -> list[int]:
        """The selected ids, ascending."""
        return self.map_selection.ids.tolist()

    def set_selection(self, ids: list[int]) -> None:
        """Make those of ``ids`` that are on the map the selection."""
        self._select(self._index.positions_of(ids) if self._index is not None else np.zeros(0, np.int64), False, False)

    def _select(self, positions: np.ndarray, shift: bool, ctrl: bool) -> None:
        ids = self._index.ids[positions] if self._index is not None else np.zeros(0, np.int64)
        self.map_selection.edit(ids, shift=shift, ctrl=ctrl)

    def _show_selection(self, *_) -> None:
        """Render the state's selection: its count in the bar, rings or greyed points on the map."""
        on_map = self._index is not None
        self._selected = self._index.positions_of(self.map_selection.ids) if on_map else np.zeros(0, np.int64)
        self.selection_bar.setVisible(bool(len(self.map_selection)))
        self.selection_label.setText(self.map_selection.describe())
        if on_map:
            self._paint_colours()
        self._redraw()

    def _paint_colours(self) -> None:
        """Each point's drawn colour: its own, or grey when a large selection leaves it out (once per selection)."""
        self._kinds = self._codes
        if len(self._selected) > RING_LIMIT:
            self._kinds = np.full(len(self._codes), len(self._palette), np.uint8)
            self._kinds[self._selected] = self._codes[self._selected]
        rgb = np.array([_rgb(colour) for colour in [*self._palette, UNSELECTED]])
        self._channels = np.ascontiguousarray(rgb[self._kinds].T)
        self.density.current = False

    def _select_polygon(self, polygon: np.ndarray, shift: bool, ctrl: bool) -> None:
        if self._index is not None:
            self._select(self._index.in_polygon(polygon), shift, ctrl)

    # -- drawing ------------------------------------------------------------------------------

    def _view_changed(self, *_) -> None:
        """A moving view leaves the hovered point behind."""
        self._end_hover()
        self._redraw()

    def _redraw(self) -> None:
        """Draw again before the next paint (``_draw_visible``)."""
        self._stale = True
        self.plot.viewport().update()

    def _draw_visible(self) -> None:
        """Draw what the view shows: real dots when few points are visible, else a density image. Runs before a paint,
        once per change of view or data, and reads only the rows of the map that the view spans."""
        if not self._stale or self._index is None:
            return
        self._stale = False
        view = self.viewbox.viewRect()
        size = self.viewbox.size().toSize()
        if view.isEmpty() or size.isEmpty():
            return
        band = self._index.band(view.top(), view.bottom())
        x = self._index.x[band]
        in_view = (x >= view.left()) & (x < view.right())
        if np.count_nonzero(in_view) <= POINT_LIMIT:
            self._draw_points(band.start + np.flatnonzero(in_view))
            self.density.hide()
        else:
            on_map = view.intersected(self._index.bounds)
            if not (self.density.same_scale(view, size) and self.density.rect.contains(on_map)):
                self._draw_density(view, size)
            self.density.show()
            self.points.clear()
        self._draw_rings(band, view)

    def _draw_density(self, view: QRectF, size: QSize) -> None:
        """A density image of the part of the view that the map covers; while panning (same zoom as the last image),
        of a margin round the view too, so that the next pan frames only move the image."""
        panning = self.density.same_scale(view, size)
        margin = round(max(size.width(), size.height()) * PAN_MARGIN) if panning else 0
        rect, pixels = self._on_map(view, size, margin)
        band = self._index.band(rect.top(), rect.bottom())
        image = density_image(self._index.x[band], self._index.y[band], self._channels[:, band], rect, pixels)
        self.density.set_pixels(image, rect)

    def _on_map(self, view: QRectF, size: QSize, margin: int) -> tuple[QRectF, QSize]:
        """The view grown by ``margin`` pixels a side and cut to the map's bounds, in whole pixels of the view."""
        pixel_width, pixel_height = view.width() / size.width(), view.height() / size.height()
        bounds = self._index.bounds
        left = max(-margin, math.floor((bounds.left() - view.left()) / pixel_width) - 1)  # a pixel to spare
        right = min(size.width() + margin, math.floor((bounds.right() - view.left()) / pixel_width) + 2)
        top = max(-margin, math.floor((bounds.top() - view.top()) / pixel_height) - 1)
        bottom = min(size.height() + margin, math.floor((bounds.bottom() - view.top()) / pixel_height) + 2)
        origin = QPointF(view.left() + left * pixel_width, view.top() + top * pixel_height)
        rect = QRectF(origin.x(), origin.y(), (right - left) * pixel_width, (bottom - top) * pixel_height)
        return rect, QSize(right - left, bottom - top)

    def _draw_points(self, shown: np.ndarray) -> None:
        kinds = self._kinds[shown]
        on_top = np.argsort(kinds != len(self._palette), kind="stable")  # greyed points first, under the others
        shown, kinds = shown[on_top], kinds[on_top]
        self.points.set_points(self._index.x[shown], self._index.y[shown], kinds, self._index.ids[shown])

    def _draw_rings(self, band: slice, view: QRectF) -> None:
        """Rings round the selected points in view, when the selection is small enough to ring."""
        selected = self._selected if len(self._selected) <= RING_LIMIT else self._selected[:0]
        selected = selected[(selected >= band.start) & (selected < band.stop)]
        x = self._index.x[selected]
        selected = selected[(x >= view.left()) & (x < view.right())]
        self.rings.set_points(self._index.x[selected], self._index.y[selected], ids=self._index.ids[selected])

    # -- pointing -----------------------------------------------------------------------------

    def _point_at(self, here: QPointF) -> int | None:
        """The position of the point within HOVER_PIXELS of ``here`` (data coordinates), nearest first."""
        if self._index is None:
            return None
        view = self.viewbox.viewRect()
        pixel = max(view.width() / max(self.viewbox.width(), 1), view.height() / max(self.viewbox.height(), 1))
        return self._index.nearest(here.x(), here.y(), HOVER_PIXELS * pixel)

    def _click(self, here: QPointF, shift: bool, ctrl: bool) -> None:
        """A plain click on a point selects it and asks for its neighbours; Shift/Ctrl+click only edits the selection."""
        position = self._point_at(here)
        if position is not None:
            self._select(np.array([position]), shift, ctrl)
            if not (shift or ctrl):
                self.itemClicked.emit(int(self._index.ids[position]))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseMove and event.buttons() == Qt.MouseButton.NoButton:
            self._hover(event.position().toPoint())
        elif event.type() == QEvent.Type.Leave:
            self._end_hover()
        return False

    def _hover(self, at: QPoint) -> None:
        position = self._point_at(self.viewbox.mapSceneToView(self.plot.mapToScene(at)))
        if position is None:
            self._end_hover()
            return
        item_id = int(self._index.ids[position])
        if item_id != self._hovered:
            self.hover.hide()
            self._hovered = item_id
            self._hover_at = self.plot.viewport().mapTo(self, at)
            self.hoverItem.emit(item_id)

    def _end_hover(self) -> None:
        self._hovered = None
        self.hover.hide()

    def show_hover(self, item: Item | None) -> None:
        """The window's answer to ``hoverItem``: show its card, unless the cursor has moved on."""
        if item is not None and item.id == self._hovered:
            self.hover.show_item(item, self.previews, self._hover_at)


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

    def show_item(self, item: Item, previews: PreviewLoader, at: QPoint) -> None:
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
