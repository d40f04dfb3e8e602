"""The centre crop of Pillow's bicubic resize, computed for the crop's pixels only, bit for bit.

The reference resizes a whole picture (short side to 224) and then crops the centre. For a
1 x 100,000 strip the whole resize is 224 x 22.4 million pixels (4.7 GB). Pillow resamples in
two passes (horizontal, then vertical) with fixed-point taps (22 fraction bits, each pass
rounded and clipped to 8 bits); this repeats its arithmetic (Resample.c: ``precompute_coeffs``,
``normalize_coeffs_8bpc``, the 8-bit passes) for the output rows and columns inside the crop,
so the result equals the reference's crop exactly at a cost bounded by the crop.
"""

from __future__ import annotations

import numpy as np

_PRECISION_BITS = 22  # 32 - 8 - 2, as Pillow
_BICUBIC_SUPPORT = 2.0


def _bicubic(x: np.ndarray) -> np.ndarray:
    """Pillow's bicubic filter (a = -0.5), each expression in its evaluation order."""
    a = -0.5
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _taps(in_size: int, out_size: int, first: int, count: int) -> list[tuple[int, np.ndarray]]:
    """(first input index, fixed-point taps) of outputs ``first .. first + count`` of a resize over the whole axis."""
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = _BICUBIC_SUPPORT * filterscale
    inverse = 1.0 / filterscale
    taps = []
    for index in range(first, first + count):
        centre = 0.0 + (index + 0.5) * scale
        low = max(int(centre - support + 0.5), 0)
        width = min(int(centre + support + 0.5), in_size) - low
        weights = _bicubic((np.arange(width) + low - centre + 0.5) * inverse)
        total = np.cumsum(weights)[-1] if width else 0.0  # summed in order, as Pillow
        if total != 0.0:
            weights = weights / total
        scaled = weights * (1 << _PRECISION_BITS)
        fixed = np.where(weights < 0, -0.5 + scaled, 0.5 + scaled)
        taps.append((low, np.trunc(fixed).astype(np.int64)))
    return taps


def _pass(pixels: np.ndarray, taps: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """One 8-bit pass along axis 0 of ``pixels`` [N, M, C]: rounded, shifted and clipped as Pillow's ``clip8``."""
    out = np.empty((len(taps), *pixels.shape[1:]), dtype=np.uint8)
    for row, (low, fixed) in enumerate(taps):
        window = pixels[low : low + len(fixed)].astype(np.int64)
        total = np.tensordot(fixed, window, axes=(0, 0)) + (1 << (_PRECISION_BITS - 1))
        out[row] = np.clip(total >> _PRECISION_BITS, 0, 255)
    return out


def resized_crop(pixels: np.ndarray, new_height: int, new_width: int, top: int, left: int, size: int) -> np.ndarray:
    """``pixels`` [H, W, C] uint8 resized to ``new_height x new_width`` (Pillow bicubic), then cropped
    at (top, left) to ``size x size``; only the crop's rows and columns are ever computed."""
    height, width = pixels.shape[:2]
    rows = _taps(height, new_height, top, size) if new_height != height else None
    if rows is None:
        needed = slice(top, top + size)
    else:
        needed = slice(min(low for low, _ in rows), max(low + len(fixed) for low, fixed in rows))
        rows = [(low - needed.start, fixed) for low, fixed in rows]
    band = pixels[needed]
    if new_width != width:
        band = _pass(band.transpose(1, 0, 2), _taps(width, new_width, left, size)).transpose(1, 0, 2)
    else:
        band = band[:, left : left + size]
    return _pass(band, rows) if rows is not None else band
