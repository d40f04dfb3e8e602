"""Pictures and video frames -> the vision encoder's input.

Pictures go through exactly the reference transform (short side to ``image_size`` with PIL
bicubic, centre crop, [0, 1], CLIP mean/std) after Pillow decodes them: EXIF orientation
applied, the first frame of an animation, 16-bit scaled to 8-bit, and grey, palette, CMYK
or RGBA converted to RGB (alpha dropped, as the reference's ``convert("RGB")`` does).
Videos follow the reference's video recipe: ``video_clips`` clips of ``video_clip_seconds``
spread over the file, ``video_frames`` frames each, three spatial crops per clip.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from engine.preprocess import reduced_jpeg as reduced
from engine.preprocess.clips import clip_spans
from engine.preprocess.cropped_resize import resized_crop
from engine.preprocess.detect import VIDEO_EXTENSIONS
from engine.preprocess.errors import CorruptFile, InvalidSignal
from engine.preprocess.files import DEFAULT_LIMITS, Limits, check_file
from engine.preprocess.pixels import (
    MAX_SCALED_PIXELS,
    centre_crop_origin,
    is_sixteen_bit,
    open_picture,
    scaled_size,
)
from engine.preprocess.pixels import import_dependencies as import_picture_plugins
from engine.preprocess.spec import DEFAULT_SPEC, PreprocessSpec


def import_dependencies() -> None:
    """Import Pillow's plugins, torchvision's transforms and OpenCV now (each is imported on first use)."""
    import_picture_plugins()
    import cv2  # noqa: F401
    import torchvision.transforms  # noqa: F401


@lru_cache(maxsize=8)
def _transform(size: int, mean: tuple, std: tuple):
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize(mean=mean, std=std),
        ]
    )


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; 16-bit and float pictures are scaled rather than clipped."""
    if is_sixteen_bit(image) or image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if is_sixteen_bit(image) else max(float(values.max()), 1e-12)
        image = Image.fromarray(np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    return image.convert("RGB")


def transform_picture(
    image: Image.Image, spec: PreprocessSpec = DEFAULT_SPEC, max_scaled_pixels: int = MAX_SCALED_PIXELS
) -> torch.Tensor:
    """A decoded picture -> [3, S, S] normalised tensor.

    Where enlarging the whole picture would exceed ``max_scaled_pixels`` (a 1 x 100,000 strip
    becomes 224 x 22.4 million), only the centre crop's pixels are resampled, with Pillow's
    arithmetic: the same values, bit for bit. A picture that shrinks is never larger than its
    decoded self, which the pixel limit bounds.
    """
    from torchvision.transforms.functional import normalize, to_tensor

    rgb = to_rgb(image)
    size = spec.image_size
    new_h, new_w = scaled_size(rgb.height, rgb.width, size)
    if min(rgb.height, rgb.width) >= size or new_h * new_w <= max_scaled_pixels:
        return _transform(size, spec.image_mean, spec.image_std)(rgb)
    top, left = centre_crop_origin(new_h, new_w, size)
    crop = resized_crop(np.asarray(rgb), new_h, new_w, top, left, size)
    return normalize(to_tensor(crop), mean=list(spec.image_mean), std=list(spec.image_std))


def load_image(
    path: str | Path,
    spec: PreprocessSpec | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    reduced_jpeg: bool = False,
) -> torch.Tensor:
    """A picture file -> [3, S, S]; a video file -> [clips x crops, 3, frames, S, S]. ``reduced_jpeg`` decodes a
    JPEG at a reduced size (``engine.preprocess.reduced_jpeg``): faster, not the same pixels."""
    spec = spec or DEFAULT_SPEC
    if Path(path).suffix.lower() in VIDEO_EXTENSIONS:
        return load_video(path, spec, limits=limits)
    at_least = reduced.MARGIN * spec.image_size if reduced_jpeg else None
    return transform_picture(open_picture(path, limits, jpeg_at_least=at_least), spec)


def load_video(
    path: str | Path, spec: PreprocessSpec | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> torch.Tensor:
    """The reference's video recipe with OpenCV decoding: [clips x crops, 3, frames, S, S]."""
    spec = spec or DEFAULT_SPEC
    path = check_file(path, limits)
    capture, fps, count = open_video(path, limits)
    try:
        wanted = clip_frames(count, fps, spec)
        frames = _read_frames(capture, sorted({i for clip in wanted for i in clip}), spec.image_size, path)
    finally:
        capture.release()
    return frames_to_clips(frames, wanted, spec)


def open_video(path: Path, limits: Limits = DEFAULT_LIMITS):
    """An opened ``cv2.VideoCapture`` of a checked file, its frame rate and frame count; the caller releases it."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise CorruptFile(path, "OpenCV cannot open this video")
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if fps <= 0 or count <= 0:
            raise InvalidSignal(path, "the video reports no frames or no frame rate")
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width * height > limits.max_pixels:
            raise InvalidSignal(path, f"{width}x{height} frames are over the pixel limit")
    except BaseException:
        capture.release()
        raise
    return capture, fps, count


def clip_frames(count: int, fps: float, spec: PreprocessSpec = DEFAULT_SPEC) -> list[list[int]]:
    """The frame indices of each clip the reference samples from a video of ``count`` frames at ``fps``."""
    wanted = []
    for start, end in clip_spans(count / fps, spec.video_clip_seconds, spec.video_clips):
        first = int(start * fps)
        last = max(first, min(count, int(end * fps)) - 1)
        wanted.append(torch.linspace(first, last, spec.video_frames).long().tolist())
    return wanted


def frames_to_clips(frames: dict[int, torch.Tensor], wanted: list[list[int]], spec: PreprocessSpec) -> torch.Tensor:
    """``scaled_frame``s by index -> [clips x crops, 3, frames, S, S], normalised."""
    mean = torch.tensor(spec.image_mean).view(3, 1, 1, 1)
    std = torch.tensor(spec.image_std).view(3, 1, 1, 1)
    outputs = []
    for clip in wanted:
        video = (torch.stack([frames[i] for i in clip], dim=1) - mean) / std  # [3, T, H, W]
        outputs.extend(_spatial_crops(video, spec.image_size, spec.video_spatial_crops))
    return torch.stack(outputs)


def _read_frames(capture, indices: list[int], size: int, path: Path) -> dict[int, torch.Tensor]:
    import cv2

    frames: dict[int, torch.Tensor] = {}
    last_good = frame = None
    for index in indices:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read(frame)  # decoded into the last frame's buffer: one full-size frame at a time
        if not ok:
            if last_good is None:
                raise CorruptFile(path, f"cannot decode frame {index}")
            frames[index] = last_good
            continue
        last_good = frames[index] = scaled_frame(frame, size)
    return frames


def scaled_frame(bgr: np.ndarray, size: int) -> torch.Tensor:
    """OpenCV's BGR uint8 [H, W, 3] -> RGB float [3, H', W'] in [0, 1], short side scaled to ``size``.

    The reference scales a clip's frames together, but bilinear scaling never mixes frames, so
    scaling each frame as it is decoded gives the same numbers while keeping only the small one.
    Each colour plane is taken from the decoded frame, made float and scaled alone, so besides that
    frame only one full-resolution float plane is held at a time (a 6000 x 6000 video kept whole
    float frames: 2.4 GB; an RGB copy and three float planes: 1.5 GB).
    """
    frame = torch.from_numpy(bgr)
    return torch.cat([_short_side_scale(frame[..., c].float().div_(255.0)[None, None], size) for c in (2, 1, 0)])[:, 0]


def _short_side_scale(video: torch.Tensor, size: int) -> torch.Tensor:
    """pytorchvideo's ShortSideScale: bilinear, short side to ``size``, floor for the long side."""
    _, _, height, width = video.shape
    if width < height:
        new_h, new_w = int(np.floor(height / width * size)), size
    else:
        new_h, new_w = size, int(np.floor(width / height * size))
    return F.interpolate(video, size=(new_h, new_w), mode="bilinear", align_corners=False)


def _spatial_crops(video: torch.Tensor, size: int, crops: int) -> list[torch.Tensor]:
    """Left/centre/right (or top/centre/bottom) crops as the reference's SpatialCrop; one crop = centre."""
    height, width = video.shape[-2:]
    positions = [1] if crops == 1 else [0, 1, 2]
    out = []
    for position in positions:
        y = int(np.ceil((height - size) / 2))
        x = int(np.ceil((width - size) / 2))
        if height > width:
            y = {0: 0, 1: y, 2: height - size}[position]
        else:
            x = {0: 0, 1: x, 2: width - size}[position]
        out.append(video[..., y : y + size, x : x + size])
    return out
