"""The transformer trunk shared by all six encoders.

Parameter names and shapes are those of the reference (``nn.MultiheadAttention`` inside
``BlockWithMasking`` inside ``SimpleTransformer``), so released checkpoints load unchanged;
the computation runs batch-first through ``F.scaled_dot_product_attention`` instead of the
reference's sequence-first ``nn.MultiheadAttention``, which saves two transposes per block
and lets PyTorch pick a fused kernel (flash or memory-efficient attention on CUDA).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameters.

    ``add_bias_kv`` appends one learned key and value (``bias_k``/``bias_v``) to every
    sequence, as the reference does for audio, depth, thermal and IMU; ``causal`` gives the
    text encoder's triangular mask without materialising it.
    """

    def __init__(self, dim: int, num_heads: int, add_bias_kv: bool = False, causal: bool = False):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embedding size {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.causal = causal
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        if add_bias_kv:
            self.bias_k = nn.Parameter(torch.empty(1, 1, dim))
            self.bias_v = nn.Parameter(torch.empty(1, 1, dim))
            nn.init.xavier_normal_(self.bias_k)
            nn.init.xavier_normal_(self.bias_v)
        else:
            self.bias_k = self.bias_v = None
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        if self.bias_k is not None:
            k = torch.cat([k, self.bias_k.to(k.dtype).expand(batch, 1, dim)], dim=1)
            v = torch.cat([v, self.bias_v.to(v.dtype).expand(batch, 1, dim)], dim=1)
        head_dim = dim // self.num_heads
        q = q.view(batch, length, self.num_heads, head_dim).transpose(1, 2)
        k = k.view(batch, -1, self.num_heads, head_dim).transpose(1, 2)
        v = v.view(batch, -1, self.num_heads, head_dim).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth (Huang et al., 2016), as timm's ``DropPath`` the reference uses: while training, each
    sample's residual branch is dropped with probability ``drop_prob`` and the kept ones scaled by its inverse;
    the identity otherwise. Written here: importing timm for it cost 2.9 s wherever no text is tokenized (open_clip,
    the tokenizer's package, imports timm itself)."""

    def __init__(self, drop_prob: float):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        kept = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * (kept / keep if keep > 0.0 else kept)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"


class Block(nn.Module):
    """Pre-norm residual block: attention then MLP, each behind DropPath (stochastic depth)."""

    def __init__(self, dim: int, attention: Attention, drop_path: float, mlp_ratio: int = 4):
        super().__init__()
        self.attn = attention
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_ratio * dim)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm_1(x)))
        return x + self.drop_path(self.mlp(self.norm_2(x)))


class Transformer(nn.Module):
    """A stack of blocks with the reference's progressive drop-path schedule and JAX-style init.

    ``pre_transformer_layer`` is an ``nn.Sequential`` so its LayerNorm keeps the reference key
    ``pre_transformer_layer.0``; it is an identity for every encoder but vision.
    """

    def __init__(
        self,
        dim: int,
        num_blocks: int,
        num_heads: int,
        *,
        pre_layer_norm: bool = False,
        add_bias_kv: bool = False,
        causal: bool = False,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(dim, eps=1e-6) if pre_layer_norm else nn.Identity())
        rates = [drop_path * i / max(num_blocks - 1, 1) for i in range(num_blocks)]
        self.blocks = nn.Sequential(
            *(Block(dim, Attention(dim, num_heads, add_bias_kv=add_bias_kv, causal=causal), rate) for rate in rates)
        )
        self.apply(_init_weights)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.pre_transformer_layer(tokens))


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
