"""Previews a person can read at a glance, one per modality, made off the GUI thread.

``make_preview`` decodes with the engine's own loaders (so a broken file says why) and returns
plain arrays: a photo thumbnail; depth and thermal through colour maps (near = warm colours
for depth, an ironbow palette for heat); a sound's waveform envelope; an IMU recording's six
channels; a text's first lines. ``PreviewLoader`` runs it on a thread pool and hands the
result back as a signal; the widgets only paint.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from engine.modality import Modality
from engine.preprocess.detect import VIDEO_EXTENSIONS

THUMBNAIL = 192
# Matplotlib's perceptually uniform maps, bundled with pyqtgraph: disparity reads near = bright
# (plasma); thermal reads cold = black, hot = white-yellow (inferno, the usual infrared rendering).
PALETTES = {"depth": "plasma", "thermal": "inferno"}


@dataclass
class Preview:
    modality: Modality
    rgb: np.ndarray | None = None  # [H, W, 3] uint8
    envelope: np.ndarray | None = None  # [2, W] min and max of a sound per column
    channels: np.ndarray | None = None  # [6, N] IMU samples
    text: str | None = None
    seconds: float | None = None
    error: str | None = None


@functools.cache
def _palette(name: str):
    import pyqtgraph as pg

    return pg.colormap.get(PALETTES[name])


def colour_map(values: np.ndarray, name: str) -> np.ndarray:
    """[H, W] in [0, 1] -> [H, W, 3] uint8 through the named palette."""
    values = np.clip(np.nan_to_num(values), 0, 1)
    return np.ascontiguousarray(_palette(name).map(values, mode="byte")[..., :3])


def _fit(rgb: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray(rgb)
    image.thumbnail((size, size))
    return np.asarray(image.convert("RGB"))


def make_preview(source: str, modality: Modality, size: int = THUMBNAIL) -> Preview:
    """Decode ``source`` (a path, or the text of a text item) into something to draw."""
    from engine.preprocess import PreprocessError

    try:
        return _PREVIEWERS[modality](source, size)
    except PreprocessError as error:
        return Preview(modality, error=error.reason)


def _photo(source: str, size: int) -> Preview:
    if Path(source).suffix.lower() in VIDEO_EXTENSIONS:
        import cv2

        from engine.preprocess import CorruptFile

        capture = cv2.VideoCapture(source)
        ok, frame = capture.read()
        seconds = (capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) / (capture.get(cv2.CAP_PROP_FPS) or 1)
        capture.release()
        if not ok:
            raise CorruptFile(source, "cannot decode the first frame")
        return Preview(Modality.VISION, rgb=_fit(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), size), seconds=seconds)
    from engine.preprocess.image import to_rgb
    from engine.preprocess.pixels import open_picture

    return Preview(Modality.VISION, rgb=_fit(np.asarray(to_rgb(open_picture(source))), size))


def _depth(source: str, size: int) -> Preview:
    from engine.preprocess.depth import read_disparity

    disparity = read_disparity(source)
    low, high = np.percentile(disparity, [2, 98])  # stretched per map, so near and far read at a glance
    stretched = (disparity - low) / (high - low) if high > low else np.zeros_like(disparity)
    return Preview(Modality.DEPTH, rgb=_fit(colour_map(stretched, "depth"), size))


def _thermal(source: str, size: int) -> Preview:
    from engine.preprocess.thermal import read_thermal

    return Preview(Modality.THERMAL, rgb=_fit(colour_map(read_thermal(source), "thermal"), size))


def _audio(source: str, size: int) -> Preview:
    from engine.preprocess.audio import read_waveform

    waveform, rate = read_waveform(source)
    first = waveform[0].numpy()
    columns = np.array_split(first, min(size * 2, len(first)))
    envelope = np.array([[c.min() for c in columns], [c.max() for c in columns]], dtype=np.float32)
    return Preview(Modality.AUDIO, envelope=envelope, seconds=len(first) / rate)


def _imu(source: str, size: int) -> Preview:
    from engine.preprocess.imu import read_imu

    samples, timestamps = read_imu(source)
    step = max(1, samples.shape[1] // (size * 2))
    seconds = float(timestamps[-1] - timestamps[0]) if timestamps is not None and len(timestamps) > 1 else None
    return Preview(Modality.IMU, channels=np.nan_to_num(samples[:, ::step]).astype(np.float32), seconds=seconds)


def _text(source: str, size: int) -> Preview:
    path = Path(source)
    if path.suffix.lower() == ".txt" and len(source) < 4096 and path.is_file():
        from engine.preprocess.text import read_text

        source = read_text(path)
    lines = source.strip().splitlines()
    return Preview(Modality.TEXT, text="\n".join(lines[:6])[:400])


_PREVIEWERS = {
    Modality.VISION: _photo,
    Modality.DEPTH: _depth,
    Modality.THERMAL: _thermal,
    Modality.AUDIO: _audio,
    Modality.IMU: _imu,
    Modality.TEXT: _text,
}


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    height, width, _ = rgb.shape
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class PreviewLoader(QObject):
    """Makes previews on two background threads and caches the most recent ones (on the GUI thread)."""

    ready = Signal(str, object)  # key, Preview
    _made = Signal(str, object)  # emitted from a pool thread, delivered to _store on the GUI thread

    def __init__(self, capacity: int = 600, parent: QObject | None = None):
        super().__init__(parent)
        self._cache: OrderedDict[str, Preview] = OrderedDict()
        self._capacity = capacity
        self._waiting: set[str] = set()
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="bindscope-preview")
        self._made.connect(self._store)

    @staticmethod
    def key(source: str, modality: Modality) -> str:
        return f"{modality.value}:{source}"

    def request(self, source: str, modality: Modality) -> Preview | None:
        """The cached preview now, or None and a ``ready`` signal later."""
        key = self.key(source, modality)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._waiting:
            self._waiting.add(key)
            self._pool.submit(self._make, key, source, modality)
        return None

    def _make(self, key: str, source: str, modality: Modality) -> None:
        try:
            preview = make_preview(source, modality)
        except Exception as error:  # a preview that fails says so on its card; it never reaches Qt
            preview = Preview(modality, error=f"{type(error).__name__}: {error}")
        self._made.emit(key, preview)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _store(self, key: str, preview: Preview) -> None:
        self._waiting.discard(key)
        self._cache[key] = preview
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        self.ready.emit(key, preview)
