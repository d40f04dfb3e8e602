"""Checks and caps that every loader applies before decoding a file."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.preprocess.errors import EmptyFile, FileTooLarge, UnreadableFile


@dataclass(frozen=True)
class Limits:
    """Caps that keep one hostile or accidental file from exhausting memory or poisoning the model.

    Sizes are checked from headers before anything is expanded: a picture's dimensions, a
    sound's frame count, a ``.npy``/``.npz`` member's shape and dtype (``max_array_bytes``:
    the largest depth map the pixel cap allows, as float64, fits).

    ``max_imu_magnitude`` bounds every IMU value (m/s^2 or rad/s). A million is beyond any
    motion sensor: shock accelerometers stop near 100,000 g (about 1e6 m/s^2), gyroscopes
    at a few hundred rad/s, and even raw 16-bit counts or readings left in mg or deg/s stay
    far below it. Larger values mean a corrupt or mislabelled file, and values near 1e19 make
    the model's float32 layer norms overflow into NaN.
    """

    max_file_bytes: int = 2 * 1024**3
    max_text_bytes: int = 1024**2
    max_pixels: int = 120_000_000
    max_audio_seconds: float = 4 * 3600.0
    max_imu_rows: int = 10_000_000
    max_array_bytes: int = 1024**3
    max_imu_magnitude: float = 1e6


DEFAULT_LIMITS = Limits()


def is_regular_file(path: str | Path) -> bool:
    """True for a regular file (symlinks followed), without opening it: a FIFO or a device is never opened."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def check_file(path: str | Path, limits: Limits = DEFAULT_LIMITS, max_bytes: int | None = None) -> Path:
    """The checks every loader starts with: it exists, is a readable regular file, is not empty or too large.

    The file is opened without blocking and checked through the open descriptor, so a FIFO, a
    device or a socket (or one swapped in after a look at the name) is refused instead of read forever.
    """
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise UnreadableFile(path, "no such file") from None
    except OSError as error:
        raise UnreadableFile(path, f"cannot read it ({error.strerror or error})") from None
    try:
        info = os.fstat(descriptor)
    finally:
        os.close(descriptor)
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFile(path, "not a regular file")
    if info.st_size == 0:
        raise EmptyFile(path, "the file is empty (0 bytes)")
    limit = max_bytes if max_bytes is not None else limits.max_file_bytes
    if info.st_size > limit:
        raise FileTooLarge(path, f"{info.st_size:,} bytes is over the {limit:,}-byte limit")
    return path
