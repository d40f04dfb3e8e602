"""The engine's facts the interfaces show and validate against, beside the workspace's door.

Plain tables, no behaviour: where the encoders can run, which files each modality reads, the
zero-shot prompt templates, the demo world's concepts (its gallery's labels) where the shipped
resources are and where a library goes when nobody names one. The interfaces import this module and ``engine.workspace``, nothing else of the
engine (``engine.modality`` aside); the import contracts in pyproject.toml check it.
"""

from __future__ import annotations

from engine.demo.concepts import CONCEPT_NAMES as DEMO_LABELS
from engine.modality import Modality
from engine.models.devices import DEVICE_CHOICES, DEVICE_LABELS, PRECISION_CHOICES
from engine.models.zoo import ModelEntry
from engine.places import chosen_library, default_library
from engine.preprocess.detect import ACCEPTS, VIDEO_EXTENSIONS, formats_help
from engine.preprocess.reduced_jpeg import EFFECT as REDUCED_JPEG_EFFECT
from engine.prompts import ZERO_SHOT_TEMPLATES
from engine.resources import resource

__all__ = [
    "ACCEPTS",
    "DEMO_LABELS",
    "DEVICE_CHOICES",
    "DEVICE_LABELS",
    "PRECISION_CHOICES",
    "REDUCED_JPEG_EFFECT",
    "VIDEO_EXTENSIONS",
    "ZERO_SHOT_TEMPLATES",
    "Modality",
    "ModelEntry",
    "chosen_library",
    "default_library",
    "formats_help",
    "resource",
]
