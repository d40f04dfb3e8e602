"""File (or text) -> the tensor a model's preprocessing spec asks for, one module per modality.

``LOADERS[modality]`` is the loader of a modality; each raises a typed ``PreprocessError``
naming the file and the reason for bad input; ``detect.py`` says which files are which
modality. The loaders (and torch) are imported on first use, so the error types and limits
stay cheap to import for the desktop app's start-up; ``prepare_loader`` imports one loader
and everything it would import on first use, for code about to call it from many threads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from engine.modality import Modality
from engine.preprocess.errors import (
    CorruptFile,
    DeviceOutOfMemory,
    EmptyFile,
    FileTooLarge,
    InvalidSignal,
    PreprocessError,
    UnreadableFile,
    UnsupportedFile,
)
from engine.preprocess.files import DEFAULT_LIMITS, Limits
from engine.preprocess.spec import DEFAULT_SPEC, DepthSensor, PreprocessSpec

_LAZY = {
    "load_image": "engine.preprocess.image",
    "load_text": "engine.preprocess.text",
    "tokenize": "engine.preprocess.text",
    "load_audio": "engine.preprocess.audio",
    "load_depth": "engine.preprocess.depth",
    "load_thermal": "engine.preprocess.thermal",
    "load_imu": "engine.preprocess.imu",
}
_LOADER_NAMES = {
    Modality.VISION: "load_image",
    Modality.TEXT: "load_text",
    Modality.AUDIO: "load_audio",
    Modality.DEPTH: "load_depth",
    Modality.THERMAL: "load_thermal",
    Modality.IMU: "load_imu",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "LOADERS":
        return {modality: __getattr__(loader) for modality, loader in _LOADER_NAMES.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def prepare_loader(modality: Modality) -> Callable:
    """The modality's loader, its module and the libraries it imports on first use all imported now, here.

    Imports are not safe to race: two decode threads importing torchaudio at once saw it
    half-initialised (``KeyError: 'torchaudio'``) and failed valid files. So whoever starts
    decode threads calls this first, on its own thread. A loader module lists what it
    imports lazily in its ``import_dependencies()``.
    """
    name = _LOADER_NAMES[modality]
    module = importlib.import_module(_LAZY[name])
    if hasattr(module, "import_dependencies"):
        module.import_dependencies()
    return getattr(module, name)


__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_SPEC",
    "LOADERS",
    "CorruptFile",
    "DepthSensor",
    "DeviceOutOfMemory",
    "EmptyFile",
    "FileTooLarge",
    "InvalidSignal",
    "Limits",
    "PreprocessError",
    "PreprocessSpec",
    "UnreadableFile",
    "UnsupportedFile",
    "load_audio",
    "load_depth",
    "load_image",
    "load_imu",
    "load_text",
    "load_thermal",
    "prepare_loader",
    "tokenize",
]
