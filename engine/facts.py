"""The engine's facts the interfaces show and validate against, beside the workspace's door.

Plain tables, no behaviour: where the encoders can run, which files each modality reads, the
zero-shot prompt templates, the demo world's concepts (its gallery's labels) and where the shipped
resources are. The interfaces import this module and ``engine.workspace``, nothing else of the
engine (``engine.modality`` aside); the import contracts in pyproject.toml check it.
"""

from __future__ import annotations

from engine.demo.concepts import CONCEPT_NAMES as DEMO_LABELS
from engine.modality import Modality
from engine.models.devices import DEVICE_CHOICES, DEVICE_LABELS, PRECISION_CHOICES
from engine.models.zoo import RESOURCES, ModelEntry
from engine.preprocess.detect import ACCEPTS, formats_help
from engine.prompts import ZERO_SHOT_TEMPLATES

__all__ = [
    "ACCEPTS",
    "DEMO_LABELS",
    "DEVICE_CHOICES",
    "DEVICE_LABELS",
    "PRECISION_CHOICES",
    "RESOURCES",
    "ZERO_SHOT_TEMPLATES",
    "Modality",
    "ModelEntry",
    "formats_help",
]
