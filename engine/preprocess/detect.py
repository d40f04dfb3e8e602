"""Which files are which modality: the formats table, and detection from a file's name and content.

The table is the one statement of what BindScope reads: file dialogs, drop filters, help text
and detection all derive from it. Detection looks at the extension, then at words in the file
or folder name (``depth/0001.png``, ``scene_thermal.jpg``), and only where those leave it open
at the content (a 16-bit greyscale picture is depth; an array with six channels is IMU; a CSV
is IMU only if it names IMU columns). ``guess_from_name`` never opens the file, for callers
that must not block (the desktop app's GUI thread).
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.modality import Modality
from engine.preprocess.files import is_regular_file
from engine.preprocess.imu_columns import column_role, is_number

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".jp2"}
)
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif"})
TEXT_EXTENSIONS = frozenset({".txt"})
ARRAY_EXTENSIONS = frozenset({".npy", ".npz"})
CSV_EXTENSIONS = frozenset({".csv"})

# What each modality reads, and the line a person reads about it (help text, the README's table).
ACCEPTS: dict[Modality, frozenset[str]] = {
    Modality.VISION: IMAGE_EXTENSIONS | VIDEO_EXTENSIONS,
    Modality.AUDIO: AUDIO_EXTENSIONS,
    Modality.DEPTH: IMAGE_EXTENSIONS | ARRAY_EXTENSIONS,
    Modality.THERMAL: IMAGE_EXTENSIONS,
    Modality.IMU: CSV_EXTENSIONS | ARRAY_EXTENSIONS,
    Modality.TEXT: TEXT_EXTENSIONS,
}
DESCRIPTIONS: dict[Modality, str] = {
    Modality.VISION: "JPEG, PNG, WebP, BMP, TIFF, GIF (first frame), PPM/PGM, JPEG 2000; "
    "video: MP4, MOV, AVI, MKV, WebM, M4V",
    Modality.AUDIO: "WAV, FLAC, OGG/Vorbis, MP3, AIFF, any sample rate and channel count",
    Modality.DEPTH: "16-bit PNG/TIFF in millimetres, .npy/.npz in metres, 8-bit greyscale renderings",
    Modality.THERMAL: "8- or 16-bit greyscale PNG/TIFF/JPEG (LLVIP-style infrared)",
    Modality.IMU: "CSV with ax, ay, az, gx, gy, gz columns (optional timestamp), or .npy/.npz [6, T] or [T, 6]",
    Modality.TEXT: ".txt files (UTF-8), or typed text",
}

_NAME_HINTS = {
    Modality.DEPTH: frozenset({"depth", "disparity", "disp"}),
    Modality.THERMAL: frozenset({"thermal", "infrared", "ir", "lwir", "flir"}),
    Modality.IMU: frozenset({"imu", "accel", "gyro", "accelerometer", "gyroscope"}),
}


def formats_help() -> str:
    """One line per modality: what it reads (the app's Help ▸ Supported files)."""
    return "\n".join(f"{m.label}: {DESCRIPTIONS[m]}" for m in ACCEPTS)


def _hinted(path: Path, modality: Modality) -> bool:
    """True when the file's name, or else its folder's, has a word naming the modality (``depth/0001.png``)."""
    for name in (path.stem, path.parent.name):
        words = set(re.split(r"[^a-z0-9]+", name.lower()))
        if words & _NAME_HINTS[modality]:
            return True
    return False


def guess_from_name(path: str | Path) -> Modality | None:
    """The modality the name alone suggests, without opening the file; None for formats no loader reads.

    Content can still change the answer (a 16-bit PNG without a name hint is depth; a CSV of
    something else is no modality): ``detect_modality`` has the last word.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext in AUDIO_EXTENSIONS:
        return Modality.AUDIO
    if ext in TEXT_EXTENSIONS:
        return Modality.TEXT
    if ext in CSV_EXTENSIONS:
        return Modality.IMU
    if ext in VIDEO_EXTENSIONS:
        return Modality.VISION
    if ext in ARRAY_EXTENSIONS:
        return Modality.IMU if _hinted(path, Modality.IMU) else Modality.DEPTH
    if ext in IMAGE_EXTENSIONS:
        for modality in (Modality.DEPTH, Modality.THERMAL):
            if _hinted(path, modality):
                return modality
        return Modality.VISION
    return None


def detect_modality(path: str | Path, override: Modality | str | None = None) -> Modality | None:
    """A file's modality from its extension, its name and, where those are ambiguous, its content.

    Depth and thermal images are PNG/TIFF/JPEG files like any photo; they are told apart by
    a name hint in the file or folder name; without one, a 16-bit single-channel image is
    taken as depth in millimetres (the common case) and anything else as a photo. Arrays are
    IMU when one axis has six channels, else depth. The caller's override wins over all of this.
    Returns ``None`` for files no loader reads. Detection never raises for a bad file: the
    loader reports what is wrong with it.
    """
    if override is not None:
        return Modality.parse(override)
    path = Path(path)
    ext = path.suffix.lower()
    if not is_regular_file(path):  # a FIFO or a device is never opened; the loader says what it is
        return guess_from_name(path)
    if ext in CSV_EXTENSIONS:
        return _detect_csv(path)
    if ext in ARRAY_EXTENSIONS:
        return _detect_array(path)
    guess = guess_from_name(path)
    if guess is Modality.VISION and ext in IMAGE_EXTENSIONS:
        return _detect_image(path)
    return guess


def _detect_image(path: Path) -> Modality:
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
    from engine.preprocess.arrays import array_shape

    shape = array_shape(path)
    if shape is not None and len(shape) == 2 and 6 in shape and min(shape) == 6:
        return Modality.IMU
    return Modality.DEPTH
