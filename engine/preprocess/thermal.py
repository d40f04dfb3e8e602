"""Thermal (long-wave infrared) images -> the thermal encoder's one-channel input.

LLVIP-style 8-bit infrared images are scaled to [0, 1] (x / 255). Radiometric 16-bit images
(raw sensor counts, e.g. FLIR) carry no fixed scale, so each is rescaled from its own
minimum..maximum to [0, 1]. Pseudo-coloured images are converted to luma first. The result
is resized (short side ``image_size``) and centre-cropped like a photo, then normalised with
``thermal_mean`` / ``thermal_std`` (0 and 1 by default: no normalisation, which scored best
in public LLVIP reproductions of the paper's thermal numbers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.preprocess.errors import InvalidSignal
from engine.preprocess.files import DEFAULT_LIMITS, Limits
from engine.preprocess.pixels import import_dependencies as import_picture_plugins
from engine.preprocess.pixels import is_sixteen_bit, open_picture, resize_center_crop, to_gray_array
from engine.preprocess.spec import DEFAULT_SPEC, PreprocessSpec


def import_dependencies() -> None:
    """Thermal pictures are decoded by Pillow: import its format plugins now."""
    import_picture_plugins()


def read_thermal(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """A thermal picture -> [H, W] float32 in [0, 1]."""
    image = open_picture(path, limits)
    values = to_gray_array(image)
    if is_sixteen_bit(image) or image.mode == "F":
        if not np.isfinite(values).any():
            raise InvalidSignal(path, "every pixel is NaN or infinite")
        values = np.where(np.isfinite(values), values, np.nan)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
        return np.nan_to_num(scaled, nan=0.0)
    return values / 255.0


def load_thermal(
    path: str | Path, spec: PreprocessSpec | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> torch.Tensor:
    """A thermal picture -> [1, S, S] (huge: [1, 224, 224])."""
    spec = spec or DEFAULT_SPEC
    plane = torch.from_numpy(np.ascontiguousarray(read_thermal(path, limits=limits), dtype=np.float32))
    plane = resize_center_crop(plane[None], spec.image_size)
    return (plane - spec.thermal_mean) / spec.thermal_std
