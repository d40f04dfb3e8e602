"""Decoding picture files safely (shared by the image, depth and thermal loaders)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.preprocess.errors import CorruptFile, FileTooLarge, UnsupportedFile
from engine.preprocess.files import DEFAULT_LIMITS, Limits, check_file

SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
# Leading bytes of the formats Pillow reads: a file that starts like one but fails is damaged, not foreign.
_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")


def import_dependencies() -> None:
    """Import every Pillow format plugin now: ``Image.open`` would import them on first use, in whatever thread."""
    Image.init()


def open_picture(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Image.Image:
    """Open, bound-check and fully decode a picture; EXIF orientation applied, first frame only.

    The pixel cap is checked from the header before decoding, so a decompression bomb is
    refused without allocating it.
    """
    path = check_file(path, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
            if width * height > limits.max_pixels:
                raise FileTooLarge(path, f"{width}x{height} pixels is over the {limits.max_pixels:,}-pixel limit")
            if width == 0 or height == 0:
                raise CorruptFile(path, f"the image has no pixels ({width}x{height})")
            image.seek(0)
            image.load()
            return ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise FileTooLarge(path, f"decompression bomb refused ({error})") from None
    except UnidentifiedImageError:
        with path.open("rb") as handle:
            head = handle.read(8)
        if head.startswith(_SIGNATURES):
            raise CorruptFile(
                path, "damaged picture: the header is recognised but the content cannot be decoded"
            ) from None
        raise UnsupportedFile(path, "not a picture format Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise CorruptFile(path, f"cannot decode the picture ({error})") from None


def to_gray_array(image: Image.Image) -> np.ndarray:
    """One channel as float32 in the file's own units (0..255 or 0..65535); colour is averaged to luma."""
    if image.mode in SIXTEEN_BIT_MODES or image.mode == "F":
        return np.asarray(image, dtype=np.float32)
    if image.mode != "L":
        image = image.convert("L")
    return np.asarray(image, dtype=np.float32)


def is_sixteen_bit(image: Image.Image) -> bool:
    return image.mode in SIXTEEN_BIT_MODES


def resize_center_crop(plane: torch.Tensor, size: int) -> torch.Tensor:
    """[C, H, W] float -> short side ``size`` (bilinear, antialiased) -> centre crop ``size`` x ``size``.

    The same geometry as the vision transform (torchvision's Resize + CenterCrop), for
    single-channel float maps that PIL cannot resample without losing precision.
    """
    height, width = plane.shape[-2:]
    short, long = (height, width) if height <= width else (width, height)
    new_long = int(size * long / short)
    new_h, new_w = (size, new_long) if height <= width else (new_long, size)
    if (new_h, new_w) != (height, width):
        plane = F.interpolate(plane[None], size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)[0]
    top = round((new_h - size) / 2.0)
    left = round((new_w - size) / 2.0)
    return plane[..., top : top + size, left : left + size].contiguous()
