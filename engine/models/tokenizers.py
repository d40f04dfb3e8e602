"""Per-modality tokenizers: raw tensors -> token sequences with class token and positions.

Attribute names follow the reference's preprocessors (``rgbt_stem``, ``depth_stem``,
``imu_stem``, ``pos_embedding_helper``...) because they are part of the checkpoint's keys.
"""

from __future__ import annotations

import torch
from torch import nn


class RepeatFrames(nn.Module):
    """Turn an image batch [B,C,H,W] into a clip [B,C,T,H,W] by repeating it ``frames`` times."""

    def __init__(self, frames: int):
        super().__init__()
        self.frames = frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            x = x.unsqueeze(2)
        if x.shape[2] == 1:
            x = x.expand(-1, -1, self.frames, -1, -1)
        return x


class PatchStem(nn.Module):
    """A patchifying projection, flattened to [B, N, D], with an optional LayerNorm."""

    def __init__(self, proj: nn.Module, norm_layer: nn.Module | None = None):
        super().__init__()
        self.proj = proj
        self.norm_layer = norm_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x).flatten(2).transpose(1, 2)
        return x if self.norm_layer is None else self.norm_layer(x)


class PositionalEmbedding(nn.Module):
    """Learned positions for class token + patches, kept under the reference's helper name."""

    def __init__(self, num_tokens: int, dim: int):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.randn(1, num_tokens, dim) * dim**-0.5)


class PatchTokenizer(nn.Module):
    """Image-like inputs (RGB, mel spectrogram, depth, thermal): stem, class token, positions."""

    def __init__(self, stem_name: str, stem: PatchStem, num_patches: int, dim: int):
        super().__init__()
        self.stem_name = stem_name
        self.add_module(stem_name, stem)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * dim**-0.5)
        self.pos_embedding_helper = PositionalEmbedding(num_patches + 1, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = getattr(self, self.stem_name)(x)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        return tokens + self.pos_embedding_helper.pos_embed


class TextTokenizer(nn.Module):
    """Token ids [B, L] -> embeddings plus positions.

    The causal ``mask`` buffer is kept only because it is part of the reference checkpoint;
    attention applies causality itself (``is_causal``) without reading it.
    """

    def __init__(self, vocab_size: int, context_length: int, dim: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.pos_embed = nn.Parameter(torch.empty(1, context_length, dim))
        self.register_buffer("mask", torch.full((context_length, context_length), float("-inf")).triu_(1))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(text) + self.pos_embed


class IMUTokenizer(nn.Module):
    """[B, 6, T] -> windows of ``kernel_size`` samples, all six channels of a window in one token."""

    def __init__(self, kernel_size: int, length: int, dim: int, channels: int = 6):
        super().__init__()
        self.kernel_size = kernel_size
        self.imu_stem = PatchStem(nn.Linear(channels * kernel_size, dim, bias=False), nn.LayerNorm(dim))
        self.pos_embed = nn.Parameter(torch.empty(1, length // kernel_size + 1, dim))
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * dim**-0.5)
        nn.init.normal_(self.pos_embed, std=0.01)

    def forward(self, imu: torch.Tensor) -> torch.Tensor:
        # The reference's ``unfold(-1, k, k)`` as a reshape (the same values): OpenVINO converts a reshape, not unfold.
        batch, channels, length = imu.shape
        count = length // self.kernel_size
        windows = imu[..., : count * self.kernel_size].reshape(batch, channels, count, self.kernel_size)
        windows = windows.permute(0, 2, 1, 3).reshape(batch, count, channels * self.kernel_size)
        tokens = self.imu_stem.norm_layer(self.imu_stem.proj(windows))
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        return tokens + self.pos_embed
