"""Tiny files that cost gigabytes to a naive loader (issue 19, rows 7, 8, 9 and 11), and a child process
that loads them under a memory limit. ``python -m tests.hostile.bombs measure DIR`` prints each one's
peak memory and time (the figures in the README's table)."""

from __future__ import annotations

import json
import random
import resource
import string
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image


def png_strip(folder: Path) -> Path:
    """1 x 100,000 photo: 224 x 22.4 million pixels once its short side is enlarged to 224."""
    path = folder / "strip.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (100_000, 1, 3), dtype=np.uint8)).save(path)
    return path


def depth_png_strip(folder: Path) -> Path:
    """16-bit depth picture, 1 x 200,000 millimetres."""
    path = folder / "strip_depth.png"
    Image.fromarray(np.full((1, 200_000), 1500, dtype=np.uint16)).save(path)
    return path


def depth_npy_strip(folder: Path) -> Path:
    """Depth array 2 x 400,000 metres."""
    path = folder / "strip_depth.npy"
    np.save(path, np.full((2, 400_000), 2.0, dtype=np.float32))
    return path


def thermal_strip(folder: Path) -> Path:
    """8-bit thermal picture, 1 x 300,000."""
    path = folder / "strip_thermal.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (1, 300_000), dtype=np.uint8)).save(path)
    return path


def slow_wav(folder: Path) -> Path:
    """8 channels sampled at 1 Hz, 14,300 frames (460 kB): four hours at 16 kHz, every channel."""
    path = folder / "slow.wav"
    data = np.random.default_rng(2).uniform(-0.5, 0.5, (14_300, 8)).astype(np.float32)
    soundfile.write(str(path), data, 1, subtype="FLOAT")
    return path


def huge_mjpeg(folder: Path) -> Path:
    """6000 x 6000 MJPEG AVI, 6 frames: each a 432 MB float frame at full resolution."""
    import cv2

    path = folder / "huge.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 2, (6000, 6000))
    for shade in range(6):
        writer.write(np.full((6000, 6000, 3), 40 * shade, dtype=np.uint8))
    writer.release()
    return path


def long_word(folder: Path) -> Path:
    """One 64 kB word: BPE over the whole word before cutting to the context took 49 s."""
    path = folder / "word.txt"
    rng = random.Random(3)
    path.write_text("".join(rng.choice(string.ascii_lowercase) for _ in range(65_536)))
    return path


BOMBS = {
    "png 1x100000": png_strip,
    "depth png 1x200000": depth_png_strip,
    "depth npy 2x400000": depth_npy_strip,
    "thermal 1x300000": thermal_strip,
    "wav 1 Hz x 8 channels": slow_wav,
    "mjpeg 6000x6000": huge_mjpeg,
    "text 64 kB word": long_word,
}

_CHILD = """
import json, resource, sys, time
from engine.preprocess import detect
from engine.modality import Modality
from engine.preprocess import LOADERS, prepare_loader
for modality in Modality:
    prepare_loader(modality)
limit = int(sys.argv[1])
if limit:
    soft = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 + limit
    resource.setrlimit(resource.RLIMIT_DATA, (soft, soft))
results = {}
for path in sys.argv[2:]:
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        shape = list(LOADERS[detect.detect_modality(path)](path).shape)
    except BaseException as error:
        shape = f"{type(error).__name__}: {str(error)[:120]}"
    results[path] = {"shape": shape, "seconds": time.perf_counter() - start,
                     "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "before_mb": before / 1024}
print(json.dumps(results))
"""


def load_in_child(paths: list[Path], extra_bytes: int = 0, root: Path | None = None, timeout: float = 600) -> dict:
    """Load ``paths`` in a fresh process (its data segment capped at ``extra_bytes`` above its size after
    start-up when given), importing ``engine`` from ``root``: {path: {shape or error, seconds, peak_mb}}."""
    root = root or Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(extra_bytes), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def _measure(folder: Path, root: Path, limit: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'bomb':24s} {'file kB':>8s} {'peak MB':>8s} {'seconds':>8s}  result ({root})")
    for name, write in BOMBS.items():
        path = write(folder)
        row = load_in_child([path], limit, root)[str(path)]
        print(
            f"{name:24s} {path.stat().st_size / 1024:8.0f} {row['peak_mb']:8.0f} {row['seconds']:8.1f}  {row['shape']}"
        )


if __name__ == "__main__":  # measure FOLDER [ROOT] [LIMIT_BYTES]
    _measure(
        Path(sys.argv[2]),
        Path(sys.argv[3]) if len(sys.argv) > 3 else Path.cwd(),
        int(sys.argv[4]) if len(sys.argv) > 4 else 0,
    )
    _ = resource, time
