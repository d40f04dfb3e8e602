"""Depth maps -> the depth encoder's one-channel disparity image.

The paper's recipe (from Omnivore, for SUN RGB-D): metric depth in metres becomes disparity
``baseline x focal_length / depth`` (depth clamped to 0.01..50 m), clamped at 75 and divided
by 75, resized (short side ``image_size``) and centre-cropped, then normalised with mean
0.0418 and std 0.0295. Accepted inputs:

* 16-bit PNG/TIFF in millimetres (NYU Depth v2, SUN RGB-D); ``depth_units_per_metre`` changes
  the unit (5000 for TUM RGB-D);
* float ``.npy`` / ``.npz`` in metres (an ``.npz`` key named ``depth`` is preferred);
* 8-bit greyscale renderings, taken as disparity already scaled to 0..1 (white = near).

Pixels without a reading (0, NaN) go through the same clamp as the recipe, so they read as
nearest; that is what the checkpoint saw during training.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from engine.preprocess.arrays import ArrayCap, load_array
from engine.preprocess.detect import ARRAY_EXTENSIONS
from engine.preprocess.errors import InvalidSignal
from engine.preprocess.files import DEFAULT_LIMITS, Limits
from engine.preprocess.pixels import import_dependencies as import_picture_plugins
from engine.preprocess.pixels import is_sixteen_bit, open_picture, resize_center_crop, to_gray_array
from engine.preprocess.spec import DEFAULT_SPEC, DepthSensor, PreprocessSpec


def import_dependencies() -> None:
    """Depth pictures are decoded by Pillow: import its format plugins now."""
    import_picture_plugins()


def depth_to_disparity(
    depth_m: np.ndarray, spec: PreprocessSpec = DEFAULT_SPEC, sensor: DepthSensor | None = None
) -> np.ndarray:
    """Metric depth (metres) -> disparity scaled to [0, 1] by the recipe's clamp at ``depth_max_disparity``."""
    sensor = sensor or spec.depth_sensor
    depth = np.nan_to_num(depth_m.astype(np.float32), nan=0.0, posinf=spec.depth_max_metres, neginf=0.0)
    depth = np.clip(depth, spec.depth_min_metres, spec.depth_max_metres)
    disparity = sensor.baseline * sensor.focal_length / depth
    return np.minimum(disparity, spec.depth_max_disparity) / spec.depth_max_disparity


def read_disparity(
    path: str | Path,
    spec: PreprocessSpec = DEFAULT_SPEC,
    *,
    sensor: DepthSensor | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> np.ndarray:
    """A depth file -> [H, W] disparity in [0, 1] (before resizing and normalisation)."""
    if Path(path).suffix.lower() in ARRAY_EXTENSIONS:
        pixels = ArrayCap("pixel", limits.max_pixels, math.prod)
        depth = _plane(load_array(path, ("depth",), limits, pixels), path)
        if not np.isfinite(depth).any():
            raise InvalidSignal(path, "every depth value is NaN or infinite")
        if (depth < 0).any():
            raise InvalidSignal(path, "negative depth values; expected metres")
        return depth_to_disparity(depth, spec, sensor)
    image = open_picture(path, limits)
    values = to_gray_array(image)
    if is_sixteen_bit(image):
        return depth_to_disparity(values / spec.depth_units_per_metre, spec, sensor)
    return values / 255.0


def load_depth(
    path: str | Path,
    spec: PreprocessSpec | None = None,
    *,
    sensor: DepthSensor | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> torch.Tensor:
    """A depth file -> [1, S, S] normalised disparity (huge: [1, 224, 224])."""
    spec = spec or DEFAULT_SPEC
    disparity = torch.from_numpy(
        np.ascontiguousarray(read_disparity(path, spec, sensor=sensor, limits=limits), dtype=np.float32)
    )
    plane = resize_center_crop(disparity[None], spec.image_size)
    return (plane - spec.depth_mean) / spec.depth_std


def _plane(array: np.ndarray, path) -> np.ndarray:
    squeezed = np.squeeze(array)
    if squeezed.ndim != 2 or min(squeezed.shape) < 2:
        raise InvalidSignal(path, f"expected a 2-D depth map, got shape {tuple(array.shape)}")
    if not np.issubdtype(squeezed.dtype, np.number):
        raise InvalidSignal(path, f"depth values must be numbers, got {squeezed.dtype}")
    return squeezed.astype(np.float32)
