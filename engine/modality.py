"""The six modalities of the joint space: the bottom layer every other module may import.

The enum's values are the reference implementation's input keys, so a ``Modality`` can index
a model's inputs and outputs directly. Which files belong to which modality is
``engine.preprocess.detect``'s job; how a modality is drawn is the app's.
"""

from __future__ import annotations

import enum


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

_ALIASES = {"image": "vision", "images": "vision", "video": "vision", "sound": "audio", "infrared": "thermal"}
