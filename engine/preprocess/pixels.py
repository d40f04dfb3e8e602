"""Decoding picture files safely (shared by the image, depth and thermal loaders)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from engine.preprocess.errors import CorruptFile, FileTooLarge, UnsupportedFile
from engine.preprocess.files import DEFAULT_LIMITS, Limits, check_file

# A PNG's text chunks (XMP, comments) may each inflate to 1 MB by default, or the picture is refused:
# valid photos with large XMP were called damaged. One chunk may now fill the whole text budget
# Pillow keeps per picture (64 MB), which still bounds a text bomb.
PngImagePlugin.MAX_TEXT_CHUNK = PngImagePlugin.MAX_TEXT_MEMORY

SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
# Leading bytes of the formats Pillow reads: a file that starts like one but fails is damaged, not foreign.
_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")


def import_dependencies() -> None:
    """Import every Pillow format plugin now: ``Image.open`` would import them on first use, in whatever thread."""
    Image.init()


def open_picture(path: str | Path, limits: Limits = DEFAULT_LIMITS, *, jpeg_at_least: int | None = None) -> Image.Image:
    """Open, bound-check and fully decode a picture; EXIF orientation applied, first frame only.

    The pixel cap is checked from the header before decoding, so a decompression bomb is
    refused without allocating it. With ``jpeg_at_least``, a JPEG is decoded at 1/2, 1/4 or 1/8
    of its size (libjpeg's DCT scaling, Pillow's ``draft``), the smallest that keeps both sides at
    least that many pixels: other pixels than the full decode's, so only on request.
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
            if jpeg_at_least and image.format == "JPEG":
                image.draft(image.mode, (jpeg_at_least, jpeg_at_least))
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


# Above this many pixels after resizing (a panorama at 10:1 is half a million), only the centre
# crop is computed: a 1 x 100,000 picture would otherwise be resized to 224 x 22.4 million.
MAX_SCALED_PIXELS = 4_000_000


def scaled_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) after the short side goes to ``size``, the long side floored (torchvision's ``Resize(size)``)."""
    if width <= height:
        return int(size * height / width), size
    return size, int(size * width / height)


def centre_crop_origin(height: int, width: int, size: int) -> tuple[int, int]:
    """(top, left) of the ``size`` x ``size`` centre crop, rounded as torchvision's ``CenterCrop``."""
    return round((height - size) / 2.0), round((width - size) / 2.0)


def resize_center_crop(plane: torch.Tensor, size: int, max_scaled_pixels: int = MAX_SCALED_PIXELS) -> torch.Tensor:
    """[C, H, W] float -> short side ``size`` (bilinear, antialiased) -> centre crop ``size`` x ``size``.

    The same geometry as the vision transform (torchvision's Resize + CenterCrop), for
    single-channel float maps that PIL cannot resample without losing precision. Where the
    resized map would exceed ``max_scaled_pixels``, only the crop's pixels are computed, with
    the same antialiased weights torch uses, in float64 (equal to torch's float32 rounding).
    """
    height, width = plane.shape[-2:]
    new_h, new_w = scaled_size(height, width, size)
    top, left = centre_crop_origin(new_h, new_w, size)
    if new_h * new_w > max_scaled_pixels:
        rows = _antialiased_weights(height, new_h, top, size)
        columns = _antialiased_weights(width, new_w, left, size)
        window = plane[:, rows[0], columns[0]].double()
        return torch.einsum("oh,chw,pw->cop", rows[1], window, columns[1]).to(plane.dtype).contiguous()
    if (new_h, new_w) != (height, width):
        plane = F.interpolate(plane[None], size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)[0]
    return plane[..., top : top + size, left : left + size].contiguous()


def _antialiased_weights(in_size: int, out_size: int, first: int, count: int) -> tuple[slice, torch.Tensor]:
    """(input window, [count, window] weights) of outputs ``first .. first + count`` of torch's antialiased bilinear resize.

    As ``_upsample_bilinear2d_aa``: output i is centred on input ``scale x (i + 0.5)``, a triangle
    filter stretched by the scale when shrinking, clipped to the input and normalised.
    """
    scale = in_size / out_size
    support = scale if scale >= 1.0 else 1.0
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    spans = []
    for i in range(first, first + count):
        centre = scale * (i + 0.5)
        low = max(int(centre - support + 0.5), 0)
        high = min(int(centre + support + 0.5), in_size)
        spans.append((centre, low, high))
    start = min(low for _, low, _ in spans)
    stop = max(high for _, _, high in spans)
    weights = torch.zeros(count, stop - start, dtype=torch.float64)
    for row, (centre, low, high) in enumerate(spans):
        taps = torch.arange(low, high, dtype=torch.float64)
        values = (1.0 - ((taps - centre + 0.5) * invscale).abs()).clamp(min=0.0)
        total = values.sum()
        weights[row, low - start : high - start] = values / total if total != 0 else values
    return slice(start, stop), weights
