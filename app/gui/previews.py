"""Previews made off the GUI thread and cached: ``engine.previews`` decodes, this module colours and caches.

``PreviewLoader`` runs the workspace's ``preview`` on a small thread pool, draws depth and
thermal planes through colour maps (near = bright for depth, plasma; cold = black, hot =
white-yellow for heat, inferno: matplotlib's perceptually uniform maps bundled with pyqtgraph),
and hands the result back as a signal; the widgets only paint.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from engine.modality import Modality
from engine.workspace import Preview, preview

PALETTES = {"depth": "plasma", "thermal": "inferno"}


@functools.cache
def _palette(name: str):
    import pyqtgraph as pg

    return pg.colormap.get(PALETTES[name])


def colour_map(values: np.ndarray, name: str) -> np.ndarray:
    """[H, W] in [0, 1] -> [H, W, 3] uint8 through the named palette."""
    values = np.clip(np.nan_to_num(values), 0, 1)
    return np.ascontiguousarray(_palette(name).map(values, mode="byte")[..., :3])


def coloured(preview: Preview) -> Preview:
    """A depth or thermal preview with its plane drawn into ``rgb``."""
    if preview.plane is not None and preview.rgb is None:
        preview.rgb = colour_map(preview.plane, preview.palette)
    return preview


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    height, width, _ = rgb.shape
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class PreviewLoader(QObject):
    """Makes previews on two background threads and caches the most recent ones (on the GUI thread)."""

    ready = Signal(str, object)  # key, Preview
    _made = Signal(str, object)  # emitted from a pool thread, delivered to _store on the GUI thread

    def __init__(self, capacity: int = 600, parent: QObject | None = None, size: int | None = None):
        super().__init__(parent)
        self._size = size  # the longest side of a picture; None: the engine's thumbnail
        self._cache: OrderedDict[str, Preview] = OrderedDict()
        self._capacity = capacity
        self._waiting: set[str] = set()
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="bindscope-preview")
        self._made.connect(self._store)

    @staticmethod
    def key(source: str, modality: Modality, size: int | None = None) -> str:
        return f"{modality.value}:{source}" + (f"@{size}" if size is not None else "")

    def request(self, source: str, modality: Modality, size: int | None = None) -> Preview | None:
        """The cached preview now, or None and a ``ready`` signal later; ``size``: a longest side other than this
        loader's (large cards), cached apart from the usual thumbnail."""
        key = self.key(source, modality, size)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._waiting:
            self._waiting.add(key)
            self._pool.submit(self._make, key, source, modality, size or self._size)
        return None

    def _make(self, key: str, source: str, modality: Modality, size: int | None) -> None:
        try:
            shown = coloured(preview(source, modality) if size is None else preview(source, modality, size))
        except Exception as error:  # a preview that fails says so on its card; it never reaches Qt
            shown = Preview(modality, error=f"{type(error).__name__}: {error}")
        self._made.emit(key, shown)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _store(self, key: str, preview: Preview) -> None:
        self._waiting.discard(key)
        self._cache[key] = preview
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        self.ready.emit(key, preview)
