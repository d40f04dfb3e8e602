"""What a model expects of its inputs; loaders read sizes and constants from here, never hard-code them.

The defaults are ImageBind-huge's (the reference's ``data.py`` for vision, text and audio, the
paper's Omnivore recipe for depth); a smaller model carries its own spec beside its config.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class DepthSensor:
    """Stereo/structured-light parameters for metric depth -> disparity (baseline x focal / depth).

    Defaults: a Kinect-class sensor (0.075 m baseline) with NYU Depth v2's focal length;
    use ``baseline=0.095`` for RealSense.
    """

    baseline: float = 0.075
    focal_length: float = 518.857901


@dataclass(frozen=True)
class PreprocessSpec:
    # vision: short side -> image_size (bicubic), centre crop, CLIP normalisation
    image_size: int = 224
    image_mean: tuple[float, float, float] = CLIP_MEAN
    image_std: tuple[float, float, float] = CLIP_STD
    # video: clips spread over the file, frames per clip, three spatial crops per clip
    video_frames: int = 2
    video_clips: int = 5
    video_clip_seconds: float = 2.0
    video_spatial_crops: int = 3
    # text: CLIP BPE
    text_context_length: int = 77
    # audio: 16 kHz, clips of 2 s, Kaldi fbank, fixed normalisation
    audio_sample_rate: int = 16000
    audio_num_mel_bins: int = 128
    audio_target_len: int = 204
    audio_clip_seconds: float = 2.0
    audio_clips: int = 3
    audio_mean: float = -4.268
    audio_std: float = 9.138
    # depth: metric depth -> disparity -> [0, 1] -> normalised
    depth_sensor: DepthSensor = field(default_factory=DepthSensor)
    depth_units_per_metre: float = 1000.0
    depth_min_metres: float = 0.01
    depth_max_metres: float = 50.0
    depth_max_disparity: float = 75.0
    depth_mean: float = 0.0418
    depth_std: float = 0.0295
    # thermal: one channel scaled to [0, 1]; no further normalisation by default (see README)
    thermal_mean: float = 0.0
    thermal_std: float = 1.0
    # IMU: six channels (m/s^2, rad/s), resampled to imu_sample_rate when timestamps exist
    imu_length: int = 2000
    imu_sample_rate: float = 200.0

    def __post_init__(self) -> None:
        check_bounds(self, SPEC_BOUNDS)
        check_bounds(self.depth_sensor, SENSOR_BOUNDS, "depth_sensor.")
        if self.depth_max_metres <= self.depth_min_metres:
            raise ValueError("PreprocessSpec.depth_max_metres must be above depth_min_metres")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> PreprocessSpec:
        """A spec from its ``to_dict`` form; ``TypeError``/``ValueError`` naming the key for anything else."""
        values = checked_fields(cls, values)
        if "depth_sensor" in values:
            values["depth_sensor"] = DepthSensor(**checked_fields(DepthSensor, values["depth_sensor"]))
        return cls(**values)

    def replace(self, **changes) -> PreprocessSpec:
        return dataclasses.replace(self, **changes)


# The spec's sizes a network's positions and stems fix: each must equal the config's field of that name.
_FIXED_BY_CONFIG = (
    "image_size",
    "video_frames",
    "text_context_length",
    "audio_num_mel_bins",
    "audio_target_len",
    "imu_length",
)


def config_mismatches(config, spec: PreprocessSpec) -> list[str]:
    """The spec's sizes that differ from what ``config``'s network takes (empty when the two agree)."""
    return [
        f"{name} is {getattr(spec, name)!r:.40} but the network takes {getattr(config, name)!r}"
        for name in _FIXED_BY_CONFIG
        if getattr(spec, name) != getattr(config, name)
    ]


_SIZE = (1, 4096)  # pixels, tokens, mel bins, frames or samples a network input can have on a side
_POSITIVE = (1e-9, 1e9)
# What each spec field may be. A spec is read from a checkpoint's metadata or a JSON beside it,
# and every cost of preprocessing follows from it (clips x seconds x rate samples, size^2
# pixels...): these bounds keep one input's cost within what the architecture takes, before any
# allocation. The sizes a network fixes must also equal its config's (``config_mismatches``).
SPEC_BOUNDS: dict[str, tuple[float, float]] = {
    "image_size": _SIZE,
    "image_mean": (-1e3, 1e3),
    "image_std": _POSITIVE,
    "video_frames": (1, 64),
    "video_clips": (1, 16),
    "video_clip_seconds": (0.01, 60.0),
    "video_spatial_crops": (1, 3),
    "text_context_length": (2, 4096),
    "audio_sample_rate": (1000, 192_000),
    "audio_num_mel_bins": (1, 1024),
    "audio_target_len": _SIZE,
    "audio_clip_seconds": (0.025, 60.0),
    "audio_clips": (1, 16),
    "audio_mean": (-1e3, 1e3),
    "audio_std": _POSITIVE,
    "depth_units_per_metre": _POSITIVE,
    "depth_min_metres": _POSITIVE,
    "depth_max_metres": _POSITIVE,
    "depth_max_disparity": _POSITIVE,
    "depth_mean": (-1e3, 1e3),
    "depth_std": _POSITIVE,
    "thermal_mean": (-1e3, 1e3),
    "thermal_std": _POSITIVE,
    "imu_length": (1, 100_000),
    "imu_sample_rate": (0.1, 100_000.0),
}
SENSOR_BOUNDS: dict[str, tuple[float, float]] = {"baseline": _POSITIVE, "focal_length": _POSITIVE}


def check_bounds(instance, bounds: dict[str, tuple[float, float]], prefix: str = "") -> None:
    """``ValueError`` naming the first field of ``instance`` (or element of a tuple field) outside its bounds."""
    for name, (low, high) in bounds.items():
        value = getattr(instance, name)
        for element in value if isinstance(value, tuple) else (value,):
            if not low <= element <= high:
                raise ValueError(
                    f"{type(instance).__name__}.{prefix}{name} is {element!r:.40}; it must be from {low:g} to {high:g}"
                )


def checked_fields(cls, values) -> dict:
    """``values`` for the dataclass ``cls``, each checked against its default's type; lists become tuples.

    Configs and specs are read from files (a checkpoint's metadata, a JSON beside it): a wrong
    key or type must fail here, naming it, not as a ``TypeError`` deep inside a model.
    """
    if not isinstance(values, dict):
        raise TypeError(f"expected a JSON object of {cls.__name__} fields, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(map(str, unknown))}")
    checked = {}
    for name, value in values.items():
        default = fields[name].default
        if default is dataclasses.MISSING:
            default = fields[name].default_factory()
        checked[name] = _checked_value(f"{cls.__name__}.{name}", value, default)
    return checked


def _checked_value(name: str, value, default):
    if dataclasses.is_dataclass(default):
        if not isinstance(value, dict):
            raise TypeError(f"{name} must be an object, got {type(value).__name__}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise TypeError(f"{name} must be a list of {len(default)} numbers, got {value!r:.60}")
        return tuple(_checked_value(f"{name}[{i}]", v, d) for i, (v, d) in enumerate(zip(value, default, strict=True)))
    wanted = int if isinstance(default, int) else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise TypeError(f"{name} must be {'an integer' if wanted is int else 'a number'}, got {value!r:.60}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


DEFAULT_SPEC = PreprocessSpec()
