"""What a model expects of its inputs; loaders read sizes and constants from here, never hard-code them.

The defaults are ImageBind-huge's (the reference's ``data.py`` for vision, text and audio, the
paper's Omnivore recipe for depth); a smaller model carries its own spec beside its config.
"""

from __future__ import annotations

import dataclasses
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

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> PreprocessSpec:
        values = dict(values)
        if isinstance(values.get("depth_sensor"), dict):
            values["depth_sensor"] = DepthSensor(**values["depth_sensor"])
        for key in ("image_mean", "image_std"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def replace(self, **changes) -> PreprocessSpec:
        return dataclasses.replace(self, **changes)


DEFAULT_SPEC = PreprocessSpec()
