"""The score along a long recording, under its large preview: each window's score for the current query as a step
over the time it leads (from its start to the next window's), the best window in full colour; a click picks a time.

The scores are ``Workspace.moment_scores`` rows, computed off the GUI thread by whoever shows the strip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.timecode import clock, span

if TYPE_CHECKING:
    from engine.workspace import Moment

_SIDE = 1.0  # the large preview's waveform and playhead are drawn 1 px in from its sides: times line up


def steps(windows: list[Moment]) -> list[tuple[float, float, float]]:
    """(from, to, score) per window in time order: a window leads from its start to the next one's start (the last
    to its end), so overlapping windows (hopped by less than their length) tile the time axis once."""
    ordered = sorted(windows, key=lambda m: (m.start, m.end))
    return [(m.start, ordered[n + 1].start if n + 1 < len(ordered) else m.end, m.score) for n, m in enumerate(ordered)]


class ScoreStrip(QWidget):
    picked = Signal(float)  # a time in seconds, clicked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFixedHeight(56)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setMouseTracking(True)
        self.windows: list[Moment] = []
        self.duration = 0.0
        self.mark: float | None = None  # the time picked last, drawn as a line
        self.hide()

    def set_windows(self, windows: list[Moment]) -> None:
        """Show these windows' scores (hidden when there are none: a short file, or no query)."""
        self.windows = list(windows)
        self.duration = max((m.end for m in self.windows), default=0.0)
        self.mark = None
        best = max(self.windows, key=lambda m: m.score, default=None)
        self.setToolTip(
            ""
            if best is None
            else f"The query's score along the file, window by window: best {best.score:.3f} at "
            f"{span(best.start, best.end)}. Click to go there."
        )
        self.setVisible(bool(self.windows))
        self.update()

    def _area(self) -> QRectF:
        return QRectF(self.rect()).adjusted(_SIDE, 4, -_SIDE, -14)

    def time_at(self, x: float) -> float:
        area = self._area()
        fraction = min(max((x - area.left()) / max(area.width(), 1.0), 0.0), 1.0)
        return fraction * self.duration

    def _x(self, seconds: float, area: QRectF) -> float:
        return area.left() + area.width() * seconds / self.duration

    def paintEvent(self, event) -> None:
        if not self.windows or self.duration <= 0:
            return
        painter = QPainter(self)
        area = self._area()
        painter.fillRect(area, self.palette().base())
        scores = [m.score for m in self.windows]
        low, high = min(scores), max(scores)
        colour = QColor("#4c78a8")
        for start, stop, score in steps(self.windows):
            height = 1.0 if high <= low else 0.15 + 0.85 * (score - low) / (high - low)
            shade = QColor(colour)
            shade.setAlphaF(1.0 if score == high else 0.55)
            left, right = self._x(start, area), self._x(stop, area)
            painter.fillRect(
                QRectF(left, area.bottom() - area.height() * height, max(right - left, 1.0), area.height() * height),
                shade,
            )
        if self.mark is not None:
            painter.setPen(QPen(QColor("#d9534f"), 2))
            x = self._x(self.mark, area)
            painter.drawLine(round(x), round(area.top()), round(x), round(area.bottom()))
        painter.setPen(self.palette().text().color())
        text = QRectF(area.left(), area.bottom() + 1, area.width(), 13)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 0.8)
        painter.setFont(font)
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft, f"score {low:.3f}–{high:.3f} along the file")
        painter.drawText(text, Qt.AlignmentFlag.AlignRight, clock(self.duration))
        painter.end()

    def mouseMoveEvent(self, event) -> None:
        if self.windows:
            at = self.time_at(event.position().x())
            here = next((s for s in steps(self.windows) if s[0] <= at <= s[1]), None)
            if here is not None:
                self.setToolTip(f"{clock(at)}: score {here[2]:.3f}")

    def mousePressEvent(self, event) -> None:
        if self.windows and event.button() == Qt.MouseButton.LeftButton:
            self.mark = self.time_at(event.position().x())
            self.update()
            self.picked.emit(self.mark)
