"""Previews a person can read at a glance, one per modality, decoded with the engine's own loaders.

A photo thumbnail; depth (disparity, stretched per map so near and far read at a glance) and
thermal as [0, 1] planes the app draws through colour maps; a sound's waveform envelope; an IMU
recording's six channels; a text's first lines. A broken file says why (its loader's reason).
Plain arrays, no Qt: the app turns them into pictures off its GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.modality import Modality
from engine.preprocess.detect import VIDEO_EXTENSIONS

THUMBNAIL = 192


@dataclass
class Preview:
    modality: Modality
    rgb: np.ndarray | None = None  # [H, W, 3] uint8
    plane: np.ndarray | None = None  # [H, W] in [0, 1] (depth, thermal), drawn through ``palette``
    palette: str | None = None  # "depth" or "thermal"
    envelope: np.ndarray | None = None  # [2, W] min and max of a sound per column
    channels: np.ndarray | None = None  # [6, N] IMU samples
    text: str | None = None
    seconds: float | None = None
    error: str | None = None


def _fit(rgb: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray(rgb)
    image.thumbnail((size, size))
    return np.asarray(image.convert("RGB"))


def _fit_plane(values: np.ndarray, size: int) -> np.ndarray:
    """A [H, W] map in [0, 1] shrunk to fit ``size`` (resampled in float, without banding)."""
    from PIL import Image

    image = Image.fromarray(np.clip(np.nan_to_num(values), 0, 1).astype(np.float32), mode="F")
    image.thumbnail((size, size))
    return np.asarray(image, dtype=np.float32)


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
        from engine.preprocess.files import check_file
        from engine.preprocess.image import open_video

        capture, fps, count = open_video(check_file(source))  # a FIFO is refused, never opened (it would block)
        try:
            ok, frame = capture.read()
        finally:
            capture.release()
        if not ok:
            raise CorruptFile(source, "cannot decode the first frame")
        return Preview(Modality.VISION, rgb=_fit(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), size), seconds=count / fps)
    from engine.preprocess.image import to_rgb
    from engine.preprocess.pixels import open_picture

    return Preview(Modality.VISION, rgb=_fit(np.asarray(to_rgb(open_picture(source))), size))


def _depth(source: str, size: int) -> Preview:
    from engine.preprocess.depth import read_disparity

    disparity = read_disparity(source)
    low, high = np.percentile(disparity, [2, 98])  # stretched per map, so near and far read at a glance
    stretched = (disparity - low) / (high - low) if high > low else np.zeros_like(disparity)
    return Preview(Modality.DEPTH, plane=_fit_plane(stretched, size), palette="depth")


def _thermal(source: str, size: int) -> Preview:
    from engine.preprocess.thermal import read_thermal

    return Preview(Modality.THERMAL, plane=_fit_plane(read_thermal(source), size), palette="thermal")


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
