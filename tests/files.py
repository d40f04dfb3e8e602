"""Writers for the small real files the tests feed to the loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
from PIL import Image


def gradient_rgb(width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], axis=-1)
    image = image + rng.integers(0, 20, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_image(path: Path, width: int = 64, height: int = 48, seed: int = 0, **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(gradient_rgb(width, height, seed)).save(path, **save)
    return path


def tone(seconds: float = 1.0, rate: int = 16000, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * np.sin(2 * np.pi * 3 * freq * t)
    return np.stack([mono * (1 - 0.2 * c) for c in range(channels)], axis=1).astype(np.float32)


def write_audio(
    path: Path, seconds: float = 1.0, rate: int = 16000, freq: float = 440.0, channels: int = 1, **kwargs
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), tone(seconds, rate, freq, channels), rate, **kwargs)
    return path


def depth_metres(width: int = 64, height: int = 48) -> np.ndarray:
    """A tilted floor: near at the bottom (0.8 m), far at the top (6 m)."""
    rows = np.linspace(6.0, 0.8, height, dtype=np.float32)[:, None]
    return np.repeat(rows, width, axis=1) + np.linspace(0, 0.3, width, dtype=np.float32)[None, :]


def write_depth_png(path: Path, metres: np.ndarray | None = None) -> Path:
    metres = depth_metres() if metres is None else metres
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(metres * 1000).astype(np.uint16)).save(path)
    return path


def thermal_counts(width: int = 64, height: int = 48, offset: int = 20000) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    blob = np.exp(-(((x - width / 2) / 8) ** 2 + ((y - height / 2) / 6) ** 2))
    return (offset + 3000 * blob).astype(np.uint16)


def imu_signal(samples: int = 400, rate: float = 200.0) -> tuple[np.ndarray, np.ndarray]:
    """([T] seconds, [T, 6] ax..gz): walking-like accelerations and turning rates."""
    t = np.arange(samples) / rate
    data = np.stack(
        [
            np.sin(2 * np.pi * 2 * t),
            0.5 * np.cos(2 * np.pi * 2 * t),
            9.81 + 0.3 * np.sin(2 * np.pi * 4 * t),
            0.1 * np.sin(2 * np.pi * 1 * t),
            0.2 * np.cos(2 * np.pi * 1 * t),
            0.05 * t,
        ],
        axis=1,
    )
    return t, data


def write_imu_csv(
    path: Path, header=("t", "ax", "ay", "az", "gx", "gy", "gz"), samples: int = 400, rate: float = 200.0
) -> Path:
    t, data = imu_signal(samples, rate)
    columns = {"t": t, **{name: data[:, i] for i, name in enumerate(("ax", "ay", "az", "gx", "gy", "gz"))}}
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)]
    for row in range(samples):
        lines.append(",".join(f"{columns[_role(h)][row]:.9g}" for h in header))
    path.write_text("\n".join(lines) + "\n")
    return path


def _role(header: str) -> str:
    from engine.preprocess.imu import column_role

    return column_role(header)
