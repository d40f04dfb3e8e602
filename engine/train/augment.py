"""Modality-appropriate augmentation on preprocessed batches, driven by an explicit generator.

Depth and thermal share the photo's crop and flip (spatially aligned, as in the paper);
audio takes one of its clips with SpecAugment-style masks; IMU is shifted in time, scaled
and jittered; photos also get brightness and contrast jitter.
"""

from __future__ import annotations

import torch
from torchvision.ops import roi_align


def _boxes(
    batch: int, height: int, width: int, g: torch.Generator, scale=(0.55, 1.0), ratio=(0.75, 1.333)
) -> torch.Tensor:
    area = torch.empty(batch).uniform_(*scale, generator=g) * height * width
    log_ratio = torch.empty(batch).uniform_(
        torch.log(torch.tensor(ratio[0])).item(), torch.log(torch.tensor(ratio[1])).item(), generator=g
    )
    aspect = torch.exp(log_ratio)
    w = torch.sqrt(area * aspect).clamp(max=width)
    h = torch.sqrt(area / aspect).clamp(max=height)
    x0 = torch.rand(batch, generator=g) * (width - w)
    y0 = torch.rand(batch, generator=g) * (height - h)
    return torch.stack([torch.arange(batch, dtype=torch.float32), x0, y0, x0 + w, y0 + h], dim=1)


def _crop(x: torch.Tensor, boxes: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    out = roi_align(x, boxes, output_size=x.shape[-2:], spatial_scale=1.0, sampling_ratio=2, aligned=True)
    return torch.where(flips[:, None, None, None], out.flip(-1), out)


def crop_and_flip(*planes: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, ...]:
    """The same random resized crop and horizontal flip for every batch given ([B, C, H, W] each)."""
    batch, _, height, width = planes[0].shape
    boxes = _boxes(batch, height, width, g)
    flips = torch.rand(batch, generator=g) < 0.5
    return tuple(_crop(p, boxes, flips) for p in planes)


def jitter_photo(x: torch.Tensor, g: torch.Generator, strength: float = 0.25) -> torch.Tensor:
    batch = x.shape[0]
    contrast = 1 + (torch.rand(batch, 1, 1, 1, generator=g) * 2 - 1) * strength
    brightness = (torch.rand(batch, 1, 1, 1, generator=g) * 2 - 1) * strength * 2
    return x * contrast + brightness


def augment_audio(clips: torch.Tensor, g: torch.Generator, freq_mask: int = 8, time_mask: int = 24) -> torch.Tensor:
    """[B, S, 1, M, T] -> one random clip per item [B, 1, M, T], with a frequency and a time mask and a gain."""
    batch, count, _, mels, frames = clips.shape
    pick = torch.randint(count, (batch,), generator=g)
    x = clips[torch.arange(batch), pick].clone()
    for size, axis, limit in ((freq_mask, 2, mels), (time_mask, 3, frames)):
        widths = torch.randint(size + 1, (batch,), generator=g)
        starts = (torch.rand(batch, generator=g) * (limit - widths)).long()
        index = torch.arange(limit)
        mask = (index[None] >= starts[:, None]) & (index[None] < (starts + widths)[:, None])
        shape = [batch, 1, 1, 1]
        shape[axis] = limit
        x = x.masked_fill(mask.view(shape), 0.0)
    return x + torch.randn(batch, 1, 1, 1, generator=g) * 0.1


def augment_imu(x: torch.Tensor, g: torch.Generator, max_shift: int = 200) -> torch.Tensor:
    """[B, 6, L]: shifted later in the window by up to ``max_shift`` samples, scaled, with noise."""
    batch, channels, length = x.shape
    shifts = torch.randint(max_shift + 1, (batch,), generator=g)
    index = (torch.arange(length)[None] - shifts[:, None]).clamp(min=-1)
    padded = torch.cat([x, torch.zeros(batch, channels, 1)], dim=2)
    index = torch.where(index < 0, length, index)
    shifted = padded.gather(2, index[:, None, :].expand(-1, channels, -1))
    scale = 1 + (torch.rand(batch, 1, 1, generator=g) * 2 - 1) * 0.1
    return shifted * scale + torch.randn(x.shape, generator=g) * 0.03
