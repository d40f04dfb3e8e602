"""File (or text) -> the tensor a model's preprocessing spec asks for, one module per modality.

``load(path)`` detects the modality and dispatches; each loader raises a typed
``PreprocessError`` naming the file and the reason for bad input.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.modality import Modality, detect_modality
from engine.preprocess.audio import load_audio
from engine.preprocess.depth import load_depth
from engine.preprocess.errors import (
    CorruptFile,
    EmptyFile,
    FileTooLarge,
    InvalidSignal,
    PreprocessError,
    UnreadableFile,
    UnsupportedFile,
)
from engine.preprocess.files import DEFAULT_LIMITS, Limits
from engine.preprocess.image import load_image
from engine.preprocess.imu import load_imu
from engine.preprocess.spec import DEFAULT_SPEC, DepthSensor, PreprocessSpec
from engine.preprocess.text import load_text, tokenize
from engine.preprocess.thermal import load_thermal

LOADERS = {
    Modality.VISION: load_image,
    Modality.TEXT: load_text,
    Modality.AUDIO: load_audio,
    Modality.DEPTH: load_depth,
    Modality.THERMAL: load_thermal,
    Modality.IMU: load_imu,
}


def load(
    path: str | Path,
    modality: Modality | str | None = None,
    spec: PreprocessSpec | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[Modality, torch.Tensor]:
    """Detect (or take) the file's modality and load it; returns (modality, tensor without batch axis)."""
    found = detect_modality(path, modality)
    if found is None:
        raise UnsupportedFile(path, f"no loader reads {Path(path).suffix or 'files without an extension'}")
    return found, LOADERS[found](path, spec, limits=limits)


__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_SPEC",
    "LOADERS",
    "CorruptFile",
    "DepthSensor",
    "EmptyFile",
    "FileTooLarge",
    "InvalidSignal",
    "Limits",
    "PreprocessError",
    "PreprocessSpec",
    "UnreadableFile",
    "UnsupportedFile",
    "load",
    "load_audio",
    "load_depth",
    "load_image",
    "load_imu",
    "load_text",
    "load_thermal",
    "tokenize",
]
