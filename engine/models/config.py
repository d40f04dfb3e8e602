"""ImageBind's configuration: plain data, importable without torch (the app's settings read it)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine.modality import Modality
from engine.preprocess.spec import checked_fields


@dataclass
class ImageBindConfig:
    """The reference ``ImageBindModel.__init__`` keywords and defaults, then BindScope's extras."""

    video_frames: int = 2
    kernel_size: tuple[int, int, int] = (2, 14, 14)
    audio_kernel_size: int = 16
    audio_stride: int = 10
    out_embed_dim: int = 768
    vision_embed_dim: int = 1024
    vision_num_blocks: int = 24
    vision_num_heads: int = 16
    audio_embed_dim: int = 768
    audio_num_blocks: int = 12
    audio_num_heads: int = 12
    audio_num_mel_bins: int = 128
    audio_target_len: int = 204
    audio_drop_path: float = 0.1
    text_embed_dim: int = 768
    text_num_blocks: int = 12
    text_num_heads: int = 12
    depth_embed_dim: int = 384
    depth_kernel_size: int = 16
    depth_num_blocks: int = 12
    depth_num_heads: int = 8
    depth_drop_path: float = 0.0
    thermal_embed_dim: int = 768
    thermal_kernel_size: int = 16
    thermal_num_blocks: int = 12
    thermal_num_heads: int = 12
    thermal_drop_path: float = 0.0
    imu_embed_dim: int = 512
    imu_kernel_size: int = 8
    imu_num_blocks: int = 6
    imu_num_heads: int = 8
    imu_drop_path: float = 0.7
    # Sizes the reference hard-codes; the defaults are the reference's.
    image_size: int = 224
    imu_length: int = 2000
    text_context_length: int = 77
    text_vocab_size: int = 49408

    def __post_init__(self) -> None:
        self.kernel_size = tuple(self.kernel_size)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ImageBindConfig:
        """A config from its ``to_dict`` form; ``TypeError``/``ValueError`` naming the key for anything else."""
        return cls(**checked_fields(cls, values))

    def embed_dim(self, modality: Modality) -> int:
        return getattr(self, f"{modality.value}_embed_dim")
