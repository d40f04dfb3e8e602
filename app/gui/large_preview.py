"""The large preview (Enter or Space on a card): the full picture, a sound's waveform with playback where
QtMultimedia is present, a video played in place (from its moment's start, for a moment's card), an IMU recording's
channels, depth and thermal with a colour bar, a text in full; under a long recording, the current query's score
along it (``ScoreStrip``): a click plays a sound or a video from there, or marks the time on an IMU recording.

It is made off the GUI thread by its own ``PreviewLoader`` at a large size; ← and → ask the grid
for the card beside this one (``step``), Space and Esc close it, the way a photo manager's does.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app.gui.keys import Key
from app.gui.playback import media_player, play_from
from app.gui.preview_view import PreviewView
from app.gui.previews import Preview, PreviewLoader, colour_map, to_pixmap
from app.gui.score_strip import ScoreStrip
from app.timecode import clock
from engine.facts import VIDEO_EXTENSIONS
from engine.modality import Modality

if TYPE_CHECKING:
    from engine.workspace import Item, Moment

LARGE = 1024  # the longest side of the large preview's picture
_TIMED = (Modality.AUDIO, Modality.VISION, Modality.IMU)  # modalities whose files may have windows (videos)
_ENDS = {"depth": ("far", "near"), "thermal": ("cold", "hot")}


class ColourBar(QWidget):
    """What the colours of a depth or thermal picture mean: the palette from one end to the other."""

    def __init__(self, palette: str, parent=None):
        super().__init__(parent)
        self.setFixedHeight(34)
        self._palette = palette
        self._bar = to_pixmap(np.repeat(colour_map(np.linspace(0, 1, 256)[None, :], palette), 12, axis=0))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        area = QRectF(self.rect()).adjusted(40, 2, -40, -18)
        painter.drawPixmap(area.toRect(), self._bar)
        low, high = _ENDS[self._palette]
        painter.setPen(self.palette().text().color())
        text = QRectF(area.x(), area.bottom() + 2, area.width(), 14)
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft, low)
        painter.drawText(text, Qt.AlignmentFlag.AlignRight, high)
        painter.end()


class LargeView(PreviewView):
    """A preview at any size, with a playhead over a waveform while the sound plays."""

    def __init__(self, parent=None):
        super().__init__(QSize(720, 440), parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(220)
        self.playhead: float | None = None  # 0..1 of the sound

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.playhead is not None:
            painter = QPainter(self)
            x = 1 + (self.width() - 2) * self.playhead
            painter.setPen(QPen(QColor("#d9534f"), 2))
            painter.drawLine(round(x), 1, round(x), self.height() - 1)
            painter.end()


class LargePreview(QDialog):
    step = Signal(int)  # -1 / +1: show the card before or after this one
    wantsScores = Signal(object, object)  # Item, this preview: answer with ``show_scores`` (off the GUI thread)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preview")
        self.loader = PreviewLoader(capacity=8, parent=self, size=LARGE)
        self.loader.ready.connect(self._ready)
        self.item: Item | None = None
        self._key = ""
        self._player = None
        self._playable = False  # a sound or video this machine can reach: the strip's clicks play it
        self._video = False  # the item is a video: it plays in ``screen``, in the view's place
        self._start = 0.0  # where ▶ plays from: the card's moment's start, else the beginning
        self.screen: QWidget | None = None  # the video output, made on the first video played
        layout = QVBoxLayout(self)
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.view = LargeView()
        layout.addWidget(self.view, 1)
        self.strip = ScoreStrip()
        self.strip.picked.connect(self.go_to)
        layout.addWidget(self.strip)
        self.bar_host = QVBoxLayout()
        layout.addLayout(self.bar_host)
        self.colour_bar: ColourBar | None = None
        row = QHBoxLayout()
        self.play_button = QPushButton("▶ Play")
        self.play_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space closes the preview, never presses it
        self.play_button.clicked.connect(self.toggle_play)
        row.addWidget(self.play_button)
        self.details = QLabel()
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.details, 1)
        hint = QLabel("<small>← → previous / next · Space or Esc closes</small>")
        row.addWidget(hint)
        layout.addLayout(row)
        self.resize(860, 600)

    def show_item(
        self, item: Item, score: float = math.nan, offline: bool = False, moment: tuple[float, float] | None = None
    ) -> None:
        """Show ``item``; ``moment`` (a card's window) is where ▶ plays a sound or video from."""
        self.stop()
        self._show_screen(False)
        self.item = item
        self.title.setText(f"<b>{item.name}</b><br><small>{item.path or ''}</small>")
        parts = [item.modality.label]
        if not math.isnan(score):
            parts.append(f"score {score:.3f}")
        if item.mtime:
            parts.append(datetime.fromtimestamp(item.mtime).strftime("%Y-%m-%d %H:%M"))
        if item.size:
            parts.append(f"{item.size / 1e6:.2f} MB" if item.size >= 1e5 else f"{item.size:,} bytes")
        self.details.setText(" · ".join(parts))
        reachable = not offline and item.path is not None
        self._video = reachable and is_video(item)
        self._playable = reachable and (item.modality is Modality.AUDIO or self._video)
        self._start = moment[0] if moment is not None else 0.0
        self.play_button.setVisible(self._playable)
        self._played()
        self.strip.set_windows([])
        self.view.set_span(None)
        self.view.playhead = None
        self._key = self.loader.key(item.source, item.modality)
        if offline:
            self._show(Preview(item.modality, error="offline: the file is not reachable now"))
        else:
            self._show(self.loader.request(item.source, item.modality))
        if not self.isVisible():
            self.show()
        self.raise_()
        self.activateWindow()
        if item.modality in _TIMED:
            self.wantsScores.emit(item, self)

    def rescore(self) -> None:
        """The query changed: ask again for the score along the recording shown, if any."""
        if self.isVisible() and self.item is not None and self.item.modality in _TIMED:
            self.wantsScores.emit(self.item, self)

    def show_scores(self, item_id: int, windows: list[Moment]) -> None:
        """The query's score along the item shown (ignored once another is shown)."""
        if self.item is not None and self.item.id == item_id:
            self.strip.set_windows(windows)
            best = max(windows, key=lambda m: m.score, default=None)  # the first of equals
            self.view.set_span((best.start, best.end) if best is not None else None)

    def go_to(self, seconds: float) -> None:
        """A time picked on the strip: a sound or a video plays from there; an IMU recording has it marked."""
        if self._playable:
            self.play_from(seconds)
            return
        if self.item.modality is Modality.IMU and self.strip.duration:
            self.view.playhead = seconds / self.strip.duration
            self.view.update()
        self.details.setText(f"{self.item.modality.label} · marked at {clock(seconds)}")

    def _ready(self, key: str, preview: Preview) -> None:
        if key == self._key:
            self._show(preview)

    def _show(self, preview: Preview | None) -> None:
        self.view.set_preview(preview)
        if self.colour_bar is not None:
            self.colour_bar.setParent(None)
            self.colour_bar.deleteLater()
            self.colour_bar = None
        if preview is not None and preview.palette in _ENDS:
            self.colour_bar = ColourBar(preview.palette)
            self.bar_host.addWidget(self.colour_bar)

    # -- sound and video ---------------------------------------------------------------------------

    def toggle_play(self) -> None:
        if self._player is not None and self._player.isPlaying():
            self.stop()
            return
        self.play()

    def play(self) -> None:
        """Play from ▶'s start: the moment's, else the beginning."""
        self.play_from(self._start)

    def play_from(self, seconds: float) -> None:
        player = self._media()
        if player is None:
            return
        self._show_screen(self._video)
        play_from(player, self.item.path, seconds)

    def _media(self):
        """The player (made on first use), with ``screen`` to play into for a video; None, said in the details,
        where QtMultimedia cannot load (its system libraries missing)."""
        what = "Video" if self._video else "Sound"
        try:
            if self._player is None:
                self._player = media_player(self)
                self._player.positionChanged.connect(self._moved)
                self._player.playbackStateChanged.connect(lambda *_: self._played())
            if self._video and self.screen is None:
                from PySide6.QtMultimediaWidgets import QVideoWidget

                self.attach_screen(QVideoWidget())
                self._player.setVideoOutput(self.screen)
        except ImportError as error:
            self.details.setText(f"{what} playback is unavailable on this system ({error}): the preview shows it")
            return None
        return self._player

    def attach_screen(self, screen: QWidget) -> None:
        """Where videos play: in the view's place, hidden until one does."""
        self.screen = screen
        screen.hide()
        self.layout().insertWidget(self.layout().indexOf(self.view) + 1, screen, 1)

    def _show_screen(self, on: bool) -> None:
        """A playing video takes the view's place; the view comes back when it stops."""
        if self.screen is not None:
            self.screen.setVisible(on)
        self.view.setVisible(not on)

    def _moved(self, position: int) -> None:
        length = self._player.duration()
        self.view.playhead = position / length if length > 0 and not self._video else None
        self.view.update()

    def _played(self) -> None:
        playing = self._player is not None and self._player.isPlaying()
        self.play_button.setText("■ Stop" if playing else f"▶ {clock(self._start)}" if self._start else "▶ Play")
        if not playing:
            self.view.playhead = None
            self.view.update()
            self._show_screen(False)

    def stop(self) -> None:
        if self._player is not None:
            self._player.stop()

    # -- keys -------------------------------------------------------------------------------------

    def keyPressEvent(self, event) -> None:
        key = Key(event.key())
        if key in (Key.Key_Left, Key.Key_Up):
            self.step.emit(-1)
        elif key in (Key.Key_Right, Key.Key_Down):
            self.step.emit(1)
        elif key == Key.Key_Space:
            self.close()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event) -> None:
        self.stop()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self.stop()
        super().done(result)


def is_video(item: Item) -> bool:
    """A video file: it plays in the large preview (a sound plays in the window's player)."""
    return item.modality is Modality.VISION and (item.path or "").lower().endswith(tuple(VIDEO_EXTENSIONS))
