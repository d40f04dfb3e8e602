"""Heads (token -> shared space) and post-processors (normalise, scale).

Module indices inside the ``nn.Sequential`` heads mirror the reference (the IMU head's
dropout sits at index 2, its projection at 3) because they appear in checkpoint keys.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SelectToken(nn.Module):
    """Pick one token (the class token) from [B, N, D]."""

    def __init__(self, index: int = 0):
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.index, ...]


class SelectEOSAndProject(nn.Module):
    """Text pooling as in CLIP: the features at the end-of-text token (the largest id)."""

    def __init__(self, proj: nn.Module):
        super().__init__()
        self.proj = proj

    def forward(self, x: torch.Tensor, eos_positions: torch.Tensor) -> torch.Tensor:
        return self.proj(x[torch.arange(x.shape[0], device=x.device), eos_positions])


class Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1, p=2)


class LogitScale(nn.Module):
    """Multiply by exp(log_logit_scale), clipped at ``max_scale``; learnable only for text."""

    def __init__(self, init: float, learnable: bool, max_scale: float = 100.0):
        super().__init__()
        self.max_scale = max_scale
        value = torch.tensor(math.log(init), dtype=torch.float32)
        if learnable:
            self.log_logit_scale = nn.Parameter(value)
        else:
            self.register_buffer("log_logit_scale", value)

    @property
    def scale(self) -> torch.Tensor:
        return self.log_logit_scale.exp().clamp(max=self.max_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale.to(x.dtype) * x


def token_head(dim: int, out_dim: int, dropout: float | None = None) -> nn.Sequential:
    """LayerNorm -> class token -> (dropout) -> linear projection."""
    layers: list[nn.Module] = [nn.LayerNorm(dim, eps=1e-6), SelectToken(0)]
    if dropout is not None:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(dim, out_dim, bias=False))
    return nn.Sequential(*layers)


def text_head(dim: int, out_dim: int) -> SelectEOSAndProject:
    return SelectEOSAndProject(nn.Sequential(nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, out_dim, bias=False)))


def postprocessor(logit_scale: float | None, learnable: bool = False) -> nn.Module:
    """Normalise, then scale by a fixed (or, for text, learned) temperature; vision is only normalised."""
    if logit_scale is None:
        return Normalize()
    return nn.Sequential(Normalize(), LogitScale(logit_scale, learnable))
