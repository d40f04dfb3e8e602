"""A long recording -> the model input of each of its windows, decoded once, front to back.

Each window's input is what the modality's whole-file loader gives for the file cut to that
window (``engine.preprocess.windows`` says where the windows lie): the loaders' own functions run on
the window's samples, so the recipe is written once. Memory stays bounded by a window, not
the file: sound is read in 30 s blocks and only the samples from the current window on are
kept, plus a copy of each window waiting for its thread (benchmarks/moments.py: an hour of
16 kHz audio, 220 MB as float32, is embedded with the peak memory growing by about 50 MB,
the model's batches included); video frames are grabbed in order and only those the
pending windows sample are kept, each scaled as it is decoded (short side to ``image_size``:
about 1 MB a 16:9 frame, whatever its resolution). IMU recordings are read whole, as the IMU loader
reads them (an hour at 200 Hz is 720,000 rows, 40 MB as float64; ``Limits.max_imu_rows``
caps it).

Reading is sequential; turning a window's samples into the model input (resampling, fbank,
video normalisation and crops, IMU resampling) is left to the window's ``make()``, so that callers can run
it in threads. ``make()`` raises the window's ``PreprocessError`` (an IMU span whose channel
holds no numbers); a file that cannot be read at all raises one as it is opened or read.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from engine.modality import Modality
from engine.preprocess.detect import VIDEO_EXTENSIONS
from engine.preprocess.errors import CorruptFile
from engine.preprocess.files import DEFAULT_LIMITS, Limits, check_file
from engine.preprocess.spec import DEFAULT_SPEC, PreprocessSpec
from engine.preprocess.windows import window_plan, window_starts

_READ_BLOCK_SECONDS = 30.0


class SegmentInput(NamedTuple):
    """One window: ``start``/``end`` in seconds, and ``make()`` -> its model input, from samples already read."""

    start: float
    end: float
    make: Callable[[], torch.Tensor]


class SegmentStream(NamedTuple):
    """A file's windows: how many there will be (for progress) and the inputs, decoded as they are iterated."""

    total: int
    inputs: Generator[SegmentInput, None, None]


def open_segments(
    modality: Modality,
    path: str | Path,
    spec: PreprocessSpec | None = None,
    *,
    hop_fraction: float = 0.5,
    limits: Limits = DEFAULT_LIMITS,
) -> SegmentStream:
    """The windows of one file in time order; none for a file no longer than one window or a still picture.

    The header (or, for IMU, the whole recording) is read now, so an unreadable file raises
    its ``PreprocessError`` here; the windows are decoded as ``inputs`` is iterated.
    """
    spec = spec or DEFAULT_SPEC
    if modality is Modality.AUDIO:
        return _audio_segments(path, spec, hop_fraction, limits)
    if modality is Modality.VISION:
        if Path(path).suffix.lower() not in VIDEO_EXTENSIONS:
            return SegmentStream(0, (window for window in ()))
        return _video_segments(path, spec, hop_fraction, limits)
    if modality is Modality.IMU:
        return _imu_segments(path, spec, hop_fraction, limits)
    raise ValueError(f"{modality.value} files have no time axis to cut into segments")


def _audio_segments(path, spec: PreprocessSpec, hop_fraction: float, limits: Limits) -> SegmentStream:
    """Each window's [clips, 1, mel_bins, target_len]: ``load_audio`` of the file cut to the window's samples."""
    from engine.preprocess.audio import sound_info

    path = check_file(path, limits)
    info = sound_info(path, limits)
    rate = int(info.samplerate)
    window, hop = window_plan(Modality.AUDIO, spec, hop_fraction).in_units(rate)
    starts = window_starts(info.frames, window, hop)
    return SegmentStream(len(starts), _audio_windows(path, spec, rate, info.channels, window, starts))


def _audio_windows(path: Path, spec: PreprocessSpec, rate: int, channels: int, window: int, starts: list[int]):
    import soundfile

    if not starts:
        return
    block = max(window, round(_READ_BLOCK_SECONDS * rate))
    try:
        with soundfile.SoundFile(str(path)) as sound:
            kept, kept_from, ended = np.zeros((0, channels), np.float32), 0, False
            for start in starts:
                kept, kept_from = kept[start - kept_from :], start
                while len(kept) < window and not ended:
                    data = sound.read(block, dtype="float32", always_2d=True)
                    ended = len(data) < block
                    kept = np.concatenate([kept, data])
                if len(kept) < window:  # the header promised more samples than the file holds
                    break
                make = partial(_audio_input, kept[:window].copy(), rate, spec, path)
                yield SegmentInput(start / rate, (start + window) / rate, make)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
        raise CorruptFile(path, f"cannot decode the sound ({error})") from None


def _audio_input(samples: np.ndarray, rate: int, spec: PreprocessSpec, path) -> torch.Tensor:
    from engine.preprocess.audio import finite_samples, waveform_to_clips

    return waveform_to_clips(finite_samples(samples, path), rate, spec, path=path)


def _video_segments(path, spec: PreprocessSpec, hop_fraction: float, limits: Limits) -> SegmentStream:
    """Each window's [clips x crops, 3, frames, S, S]: ``load_video`` of the file cut to the window's frames."""
    from engine.preprocess.image import open_video

    path = check_file(path, limits)
    capture, fps, count = open_video(path, limits)
    capture.release()
    window, hop = window_plan(Modality.VISION, spec, hop_fraction).in_units(fps)
    starts = window_starts(count, window, hop)
    return SegmentStream(len(starts), _video_windows(path, spec, limits, fps, window, starts))


def _video_windows(path: Path, spec: PreprocessSpec, limits: Limits, fps: float, window: int, starts: list[int]):
    from engine.preprocess.image import clip_frames, frames_to_clips, open_video, scaled_frame

    if not starts:
        return
    offsets = clip_frames(window, fps, spec)
    plans = [(start, sorted({start + i for clip in offsets for i in clip})) for start in starts]
    needed = {i for _, indices in plans for i in indices}
    capture, _, _ = open_video(path, limits)
    try:
        kept: dict[int, torch.Tensor] = {}
        index, last_good, frame = -1, None, None
        for number, (start, indices) in enumerate(plans):
            while index < indices[-1]:
                index += 1
                if not capture.grab():
                    break
                if index in needed:
                    ok, frame = capture.retrieve(frame)  # into the last frame's buffer
                    if ok:
                        last_good = kept[index] = scaled_frame(frame, spec.image_size)
            if last_good is None:
                raise CorruptFile(path, f"cannot decode frame {indices[0]}")
            frames = {i: kept.get(i, last_good) for i in indices}
            wanted = [[start + i for i in clip] for clip in offsets]
            make = partial(frames_to_clips, frames, wanted, spec)
            yield SegmentInput(start / fps, (start + window) / fps, make)
            following = plans[number + 1][1][0] if number + 1 < len(plans) else index + 1
            for i in [i for i in kept if i < following]:
                del kept[i]
    finally:
        capture.release()


def _imu_segments(path, spec: PreprocessSpec, hop_fraction: float, limits: Limits) -> SegmentStream:
    """Each window's [6, imu_length]: ``load_imu`` of the rows whose time falls in the window.

    With timestamps, windows lie on the ``imu_sample_rate`` grid from the earliest timestamp
    and a row belongs to the window ``[start, end)`` holding its time since then; without,
    rows are taken as evenly sampled at ``imu_sample_rate``. A window without rows (a gap in
    the recording) is skipped.
    """
    from engine.preprocess.imu import read_imu

    samples, timestamps = read_imu(path, limits=limits)
    rate = spec.imu_sample_rate
    window, hop = window_plan(Modality.IMU, spec, hop_fraction).in_units(rate)
    if timestamps is None:
        starts = window_starts(samples.shape[1], window, hop)
        cuts = ((start, samples[:, start : start + window], None) for start in starts)
        return SegmentStream(len(starts), _imu_windows(path, spec, rate, window, cuts))
    elapsed = timestamps - timestamps.min()
    order = np.argsort(elapsed, kind="stable")
    ordered = elapsed[order]
    spans = []
    for start in window_starts(int(elapsed.max() * rate) + 1, window, hop):
        low, high = np.searchsorted(ordered, [start / rate, (start + window) / rate], side="left")
        if high > low:
            spans.append((start, low, high))
    cuts = (_rows_in_file_order(samples, timestamps, order[low:high], start) for start, low, high in spans)
    return SegmentStream(len(spans), _imu_windows(path, spec, rate, window, cuts))


def _rows_in_file_order(samples: np.ndarray, timestamps: np.ndarray, rows: np.ndarray, start: int):
    """A window's rows as the cut file holds them: in the order of the original file."""
    rows = np.sort(rows)
    return start, samples[:, rows], timestamps[rows]


def _imu_windows(path, spec: PreprocessSpec, rate: float, window: int, cuts):
    from engine.preprocess.imu import imu_to_tensor

    for start, samples, timestamps in cuts:
        make = partial(imu_to_tensor, samples, timestamps, spec, path=path)
        yield SegmentInput(start / rate, (start + window) / rate, make)
