"""A widget that paints any modality's ``Preview``: picture, waveform, six IMU channels or text; and, for a moment,
where its window lies in the file (a band over the time axis)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.colours import MODALITY_COLOURS
from app.gui.previews import Preview, to_pixmap
from engine.modality import Modality

_IMU_COLOURS = ("#e45756", "#54a24b", "#4c78a8", "#f58518", "#b279a2", "#72b7b2")
_IMU_NAMES = ("ax", "ay", "az", "gx", "gy", "gz")


class PreviewView(QWidget):
    def __init__(self, size: QSize | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._preview: Preview | None = None
        self._pixmap: QPixmap | None = None
        self._span: tuple[float, float] | None = None
        self._hint = size or QSize(176, 132)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self._hint.height())

    def sizeHint(self) -> QSize:
        return self._hint

    def set_preview(self, preview: Preview | None) -> None:
        self._preview = preview
        self._pixmap = to_pixmap(preview.rgb) if preview is not None and preview.rgb is not None else None
        self.update()

    def set_span(self, span: tuple[float, float] | None) -> None:
        """Mark the window (start, end) in seconds over the preview's time axis (when it has one)."""
        self._span = span
        self.update()

    def _paint_span(self, painter: QPainter, area: QRectF, seconds: float) -> None:
        start, end = (min(max(t / seconds, 0.0), 1.0) for t in self._span)
        band = QRectF(area.x() + area.width() * start, area.y(), max(2.0, area.width() * (end - start)), area.height())
        colour = QColor(self.palette().highlight().color())
        colour.setAlpha(60)
        painter.fillRect(band, colour)
        colour.setAlpha(220)
        painter.setPen(QPen(colour, 1.5))
        painter.drawLine(band.topLeft(), band.bottomLeft())
        painter.drawLine(band.topRight(), band.bottomRight())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        palette = self.palette()
        painter.fillRect(area, palette.alternateBase())
        preview = self._preview
        if preview is None:
            painter.setPen(palette.placeholderText().color())
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "loading…")
        elif preview.error:
            painter.setPen(QColor("#d9534f"))
            painter.drawText(
                area.adjusted(6, 6, -6, -6),
                Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignCenter,
                f"Cannot preview:\n{preview.error}",
            )
        elif self._pixmap is not None:
            scaled = self._pixmap.scaled(
                area.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            x = area.x() + (area.width() - scaled.width()) / 2
            y = area.y() + (area.height() - scaled.height()) / 2
            painter.drawPixmap(QPointF(x, y), scaled)
        elif preview.envelope is not None:
            self._paint_waveform(painter, area, preview)
        elif preview.channels is not None:
            self._paint_channels(painter, area, preview)
        elif preview.text is not None:
            painter.setPen(palette.text().color())
            painter.drawText(
                area.adjusted(8, 6, -8, -6),
                Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                preview.text,
            )
        if preview is not None and preview.seconds and self._span is not None and not preview.error:
            self._paint_span(painter, area, preview.seconds)
        if preview is not None and preview.seconds:
            painter.setPen(palette.placeholderText().color())
            painter.drawText(
                area.adjusted(4, 2, -4, -2),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                f"{preview.seconds:.1f} s",
            )
        painter.end()

    def _paint_waveform(self, painter: QPainter, area: QRectF, preview: Preview) -> None:
        low, high = preview.envelope
        peak = max(float(abs(low).max()), float(abs(high).max()), 1e-6)
        middle, half = area.center().y(), area.height() / 2 - 4
        columns = len(low)
        path = QPainterPath()
        for i in range(columns):
            x = area.x() + area.width() * i / max(columns - 1, 1)
            path.moveTo(x, middle - high[i] / peak * half)
            path.lineTo(x, middle - low[i] / peak * half + 0.5)
        painter.setPen(QPen(QColor(MODALITY_COLOURS[Modality.AUDIO]), 1))
        painter.drawPath(path)

    def _paint_channels(self, painter: QPainter, area: QRectF, preview: Preview) -> None:
        channels = preview.channels
        rows = area.height() / 6
        for c in range(6):
            values = channels[c]
            low, high = float(values.min()), float(values.max())
            span = high - low if high > low else 1.0
            top = area.y() + c * rows
            path = QPainterPath()
            for i, v in enumerate(values):
                x = area.x() + 18 + (area.width() - 20) * i / max(len(values) - 1, 1)
                y = top + rows - 2 - (v - low) / span * (rows - 4)
                path.moveTo(x, y) if i == 0 else path.lineTo(x, y)
            painter.setPen(QPen(QColor(_IMU_COLOURS[c]), 1))
            painter.drawPath(path)
            painter.drawText(QRectF(area.x() + 1, top, 18, rows), Qt.AlignmentFlag.AlignVCenter, _IMU_NAMES[c])
