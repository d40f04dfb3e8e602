"""ImageBind built from a config: six encoders into one normalised embedding space.

``ImageBindConfig`` takes the reference constructor's keywords with the reference defaults
(plus a few sizes the reference hard-codes, so smaller models such as the demo can change
them); ``ImageBindModel`` has the reference's state-dict keys and returns what the reference
returns, so the released checkpoint loads with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.modality import Modality
from engine.models.config import ImageBindConfig
from engine.models.heads import postprocessor, text_head, token_head
from engine.models.tokenizers import IMUTokenizer, PatchStem, PatchTokenizer, RepeatFrames, TextTokenizer
from engine.models.transformer import Transformer

# Fixed temperatures of the post-processors (text starts at 1/0.07 and is learned).
LOGIT_SCALES: dict[Modality, float | None] = {
    Modality.VISION: None,
    Modality.TEXT: 1 / 0.07,
    Modality.AUDIO: 20.0,
    Modality.DEPTH: 5.0,
    Modality.THERMAL: 10.0,
    Modality.IMU: 5.0,
}


def _build_tokenizers(c: ImageBindConfig) -> dict[str, nn.Module]:
    t, kh, kw = c.kernel_size
    vision_patches = (c.video_frames // t) * (c.image_size // kh) * (c.image_size // kw)
    mel_rows = (c.audio_num_mel_bins - c.audio_kernel_size) // c.audio_stride + 1
    mel_cols = (c.audio_target_len - c.audio_kernel_size) // c.audio_stride + 1

    def image_stem(dim: int, kernel: int, stride: int | None = None) -> PatchStem:
        conv = nn.Conv2d(1, dim, kernel_size=kernel, stride=stride or kernel, bias=False)
        return PatchStem(conv, nn.LayerNorm(dim))

    vision_stem = PatchStem(
        nn.Sequential(
            RepeatFrames(c.video_frames),
            nn.Conv3d(3, c.vision_embed_dim, kernel_size=c.kernel_size, stride=c.kernel_size, bias=False),
        )
    )
    return {
        Modality.VISION.value: PatchTokenizer("rgbt_stem", vision_stem, vision_patches, c.vision_embed_dim),
        Modality.TEXT.value: TextTokenizer(c.text_vocab_size, c.text_context_length, c.text_embed_dim),
        Modality.AUDIO.value: PatchTokenizer(
            "rgbt_stem",
            image_stem(c.audio_embed_dim, c.audio_kernel_size, c.audio_stride),
            mel_rows * mel_cols,
            c.audio_embed_dim,
        ),
        Modality.DEPTH.value: PatchTokenizer(
            "depth_stem",
            image_stem(c.depth_embed_dim, c.depth_kernel_size),
            (c.image_size // c.depth_kernel_size) ** 2,
            c.depth_embed_dim,
        ),
        Modality.THERMAL.value: PatchTokenizer(
            "rgbt_stem",
            image_stem(c.thermal_embed_dim, c.thermal_kernel_size),
            (c.image_size // c.thermal_kernel_size) ** 2,
            c.thermal_embed_dim,
        ),
        Modality.IMU.value: IMUTokenizer(c.imu_kernel_size, c.imu_length, c.imu_embed_dim),
    }


def _build_trunks(c: ImageBindConfig) -> dict[str, nn.Module]:
    def trunk(m: Modality, **kwargs) -> Transformer:
        return Transformer(
            getattr(c, f"{m.value}_embed_dim"),
            getattr(c, f"{m.value}_num_blocks"),
            getattr(c, f"{m.value}_num_heads"),
            **kwargs,
        )

    return {
        Modality.VISION.value: trunk(Modality.VISION, pre_layer_norm=True),
        Modality.TEXT.value: trunk(Modality.TEXT, causal=True),
        **{
            m.value: trunk(m, add_bias_kv=True, drop_path=getattr(c, f"{m.value}_drop_path"))
            for m in (Modality.AUDIO, Modality.DEPTH, Modality.THERMAL, Modality.IMU)
        },
    }


def _build_heads(c: ImageBindConfig) -> dict[str, nn.Module]:
    out = c.out_embed_dim
    return {
        Modality.VISION.value: token_head(c.vision_embed_dim, out),
        Modality.TEXT.value: text_head(c.text_embed_dim, out),
        Modality.AUDIO.value: token_head(c.audio_embed_dim, out),
        Modality.DEPTH.value: token_head(c.depth_embed_dim, out),
        Modality.THERMAL.value: token_head(c.thermal_embed_dim, out),
        Modality.IMU.value: token_head(c.imu_embed_dim, out, dropout=0.5),
    }


class ImageBindModel(nn.Module):
    """Six encoders sharing one output space; ``forward`` returns the reference's outputs."""

    def __init__(self, config: ImageBindConfig | None = None):
        super().__init__()
        self.config = config or ImageBindConfig()
        self.modality_preprocessors = nn.ModuleDict(_build_tokenizers(self.config))
        self.modality_trunks = nn.ModuleDict(_build_trunks(self.config))
        self.modality_heads = nn.ModuleDict(_build_heads(self.config))
        self.modality_postprocessors = nn.ModuleDict(
            {m.value: postprocessor(scale, learnable=m is Modality.TEXT) for m, scale in LOGIT_SCALES.items()}
        )

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Embed each modality's batch: L2-normalised, then scaled by the modality's temperature.

        Inputs of five or more dimensions ([B, S, ...]: audio clips, video clips) are encoded clip
        by clip and the S post-processed embeddings averaged, as the reference does.
        """
        return {key: self.encode(Modality(key), value) for key, value in inputs.items()}

    def encode(self, modality: Modality, x: torch.Tensor) -> torch.Tensor:
        clips = x.ndim >= 5
        if clips:
            batch, count = x.shape[:2]
            x = x.reshape(batch * count, *x.shape[2:])
        key = modality.value
        tokens = self.modality_preprocessors[key](x)
        features = self.modality_trunks[key](tokens)
        if modality is Modality.TEXT:
            embedding = self.modality_heads[key](features, x.argmax(dim=-1))
        else:
            embedding = self.modality_heads[key](features)
        embedding = self.modality_postprocessors[key](embedding)
        if clips:
            embedding = embedding.reshape(batch, count, -1).mean(dim=1)
        return embedding

    def logit_scale(self, modality: Modality) -> float:
        """The temperature ``encode`` multiplies by (1.0 for vision)."""
        post = self.modality_postprocessors[modality.value]
        return float(post[1].scale.detach()) if isinstance(post, nn.Sequential) else 1.0
