"""The six modalities of the joint space and which files belong to which.

The enum's values are the reference implementation's input keys, so a
``Modality`` can index a model's inputs and outputs directly.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path


class Modality(enum.StrEnum):
    VISION = "vision"
    TEXT = "text"
    AUDIO = "audio"
    DEPTH = "depth"
    THERMAL = "thermal"
    IMU = "imu"

    @property
    def label(self) -> str:
        """The name a person reads in the interfaces."""
        return _LABELS[self]

    @classmethod
    def parse(cls, name: str | Modality) -> Modality:
        """Accept the reference key, the display label or a common alias."""
        if isinstance(name, Modality):
            return name
        key = name.strip().lower()
        key = _ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown modality {name!r} (choose from {choices})") from None


_LABELS = {
    Modality.VISION: "Image",
    Modality.TEXT: "Text",
    Modality.AUDIO: "Audio",
    Modality.DEPTH: "Depth",
    Modality.THERMAL: "Thermal",
    Modality.IMU: "IMU",
}

# One colour per modality, shared by the map picture of the command line and the desktop app.
COLORS = {
    Modality.VISION: "#4C78A8",
    Modality.TEXT: "#B279A2",
    Modality.AUDIO: "#F58518",
    Modality.DEPTH: "#54A24B",
    Modality.THERMAL: "#E45756",
    Modality.IMU: "#72B7B2",
}

# Colours for clusters on the map (picture and app); -1 (noise) is drawn grey.
CLUSTER_COLORS = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#E45756",
    "#72B7B2",
    "#EECA3B",
    "#B279A2",
    "#FF9DA6",
    "#9D755D",
    "#BAB0AC",
)

_ALIASES = {"image": "vision", "images": "vision", "video": "vision", "sound": "audio", "infrared": "thermal"}

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".jp2"}
)
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif"})
TEXT_EXTENSIONS = frozenset({".txt"})
ARRAY_EXTENSIONS = frozenset({".npy", ".npz"})
IMU_EXTENSIONS = frozenset({".csv"})

_NAME_HINTS = {
    Modality.DEPTH: frozenset({"depth", "disparity", "disp"}),
    Modality.THERMAL: frozenset({"thermal", "infrared", "ir", "lwir", "flir"}),
    Modality.IMU: frozenset({"imu", "accel", "gyro", "accelerometer", "gyroscope"}),
}


def _hinted(path: Path, modality: Modality) -> bool:
    """True when the file's name, or else its folder's, has a word naming the modality (``depth/0001.png``)."""
    for name in (path.stem, path.parent.name):
        words = set(re.split(r"[^a-z0-9]+", name.lower()))
        if words & _NAME_HINTS[modality]:
            return True
    return False


def detect_modality(path: str | Path, override: Modality | str | None = None) -> Modality | None:
    """Guess a file's modality from its extension, its name and, where those are ambiguous, its content.

    Depth and thermal images are PNG/TIFF/JPEG files like any photo; they are told apart by
    a name hint in the file or folder name (``depth``, ``thermal``, ``ir``...); without one,
    a 16-bit single-channel image is taken as depth in millimetres (the common case) and
    anything else as a photo. The caller's override wins over all of this.
    Arrays (``.npy``/``.npz``) are IMU when one axis has six channels, else depth.
    Returns ``None`` for files no loader reads.
    """
    if override is not None:
        return Modality.parse(override)
    path = Path(path)
    ext = path.suffix.lower()
    if ext in AUDIO_EXTENSIONS:
        return Modality.AUDIO
    if ext in TEXT_EXTENSIONS:
        return Modality.TEXT
    if ext in IMU_EXTENSIONS:
        return _detect_csv(path)
    if ext in VIDEO_EXTENSIONS:
        return Modality.VISION
    if ext in ARRAY_EXTENSIONS:
        return _detect_array(path)
    if ext in IMAGE_EXTENSIONS:
        return _detect_image(path)
    return None


def _detect_image(path: Path) -> Modality:
    for modality in (Modality.DEPTH, Modality.THERMAL):
        if _hinted(path, modality):
            return modality
    from PIL import Image

    try:
        with Image.open(path) as image:
            mode = image.mode
    except Exception:  # detection never fails: the image loader reports what is wrong with the file
        return Modality.VISION
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        return Modality.DEPTH
    return Modality.VISION


def _detect_csv(path: Path) -> Modality | None:
    """A CSV is IMU if its first row is numbers or names at least one accelerometer or gyroscope column.

    A CSV of something else (a manifest, a spreadsheet) is no one's modality and is left alone;
    an IMU CSV missing some columns is still IMU, so the loader can say which are missing.
    """
    from engine.preprocess.imu_columns import column_role, is_number

    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            first = handle.readline(4096)
    except OSError:  # the IMU loader reports why it cannot be read
        return Modality.IMU
    cells = [c.strip() for c in re.split(r"[,;\t ]+", first.strip()) if c.strip()]
    if not cells:
        return Modality.IMU
    if all(is_number(c) for c in cells):
        return Modality.IMU
    roles = {column_role(c) for c in cells}
    return Modality.IMU if roles - {None, "t"} else None


def _detect_array(path: Path) -> Modality:
    if _hinted(path, Modality.IMU):
        return Modality.IMU
    if _hinted(path, Modality.DEPTH):
        return Modality.DEPTH
    import numpy as np

    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                shape = archive[archive.files[0]].shape if archive.files else ()
        else:
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
    except Exception:  # detection never fails: the array loader reports what is wrong with the file
        return Modality.DEPTH
    if len(shape) == 2 and 6 in shape and min(shape) == 6:
        return Modality.IMU
    return Modality.DEPTH
