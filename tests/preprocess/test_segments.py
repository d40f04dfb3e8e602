"""Each window of a long recording is the whole-file loader's input for the file cut to that window."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from engine.modality import Modality
from engine.preprocess import InvalidSignal, load_audio, load_image, load_imu
from engine.preprocess.segments import open_segments
from engine.preprocess.spec import DEFAULT_SPEC
from engine.preprocess.windows import window_plan, window_starts

SMALL = DEFAULT_SPEC.replace(image_size=32, audio_num_mel_bins=32, imu_length=400)  # fast; windows unchanged but IMU


@pytest.mark.parametrize(("total", "window", "hop"), [(100, 30, 15), (31, 30, 15), (90, 30, 15), (1000, 7, 3)])
def test_windows_cover_the_signal_and_end_at_its_end(total, window, hop):
    starts = window_starts(total, window, hop)
    assert starts[0] == 0 and starts[-1] == total - window
    assert all(0 < b - a <= hop for a, b in itertools.pairwise(starts))


def test_no_windows_for_a_signal_no_longer_than_one():
    assert window_starts(30, 30, 15) == [] and window_starts(5, 30, 15) == []


def test_windows_are_the_span_the_reference_recipe_covers():
    assert window_plan(Modality.AUDIO, DEFAULT_SPEC).window_seconds == 6.0  # 3 clips of 2 s side by side
    assert window_plan(Modality.VISION, DEFAULT_SPEC).window_seconds == 10.0  # 5 clips of 2 s
    assert window_plan(Modality.IMU, DEFAULT_SPEC).window_seconds == 10.0  # 2000 samples at 200 Hz
    assert window_plan(Modality.AUDIO, DEFAULT_SPEC).hop_seconds == 3.0
    with pytest.raises(ValueError, match="no time axis"):
        window_plan(Modality.DEPTH, DEFAULT_SPEC)


def _noise_with_tones(seconds: float, rate: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * (300 + 40 * t)[:, None] * t[:, None] * np.arange(1, channels + 1))
    return np.clip(tone + rng.normal(0, 0.05, (len(t), channels)), -1, 1).astype(np.float32)


@pytest.mark.parametrize(
    ("rate", "channels", "suffix", "seconds", "starts"),
    [(44100, 2, ".wav", 9.5, [0, 3, 3.5]), (16000, 1, ".flac", 14.3, [0, 3, 6, 8.3])],
)
def test_audio_windows_equal_the_cut_files(tmp_path, rate, channels, suffix, seconds, starts):
    path = tmp_path / f"long{suffix}"
    soundfile.write(path, _noise_with_tones(seconds, rate, channels), rate, subtype="PCM_16")
    stream = open_segments(Modality.AUDIO, path, SMALL)
    segments = list(stream.inputs)
    assert len(segments) == stream.total
    assert [s.start for s in segments] == pytest.approx(starts, abs=1 / rate)  # the last one ends at the end
    decoded, _ = soundfile.read(path, dtype="float32", always_2d=True)
    for number, segment in enumerate(segments):
        cut = tmp_path / f"cut{number}{suffix}"
        soundfile.write(cut, decoded[round(segment.start * rate) : round(segment.end * rate)], rate, subtype="PCM_16")
        assert torch.equal(segment.make(), load_audio(cut, SMALL)), (segment.start, segment.end)


def test_a_short_sound_has_no_segments(tmp_path):
    path = tmp_path / "short.wav"
    soundfile.write(path, _noise_with_tones(5.9, 16000, 1), 16000)
    stream = open_segments(Modality.AUDIO, path, SMALL)
    assert stream.total == 0 and list(stream.inputs) == []


def _frame(index: int) -> np.ndarray:
    """A frame that differs from its neighbours (a moving bar over a gradient), BGR uint8."""
    y, x = np.mgrid[0:48, 0:64]
    frame = np.stack([(x * 4 + index) % 256, (y * 5) % 256, np.full_like(x, (index * 7) % 256)], axis=-1)
    frame[:, (index % 60) : (index % 60) + 4] = 255
    return frame.astype(np.uint8)


def _write_video(path, frames, fps: float) -> None:
    cv2 = pytest.importorskip("cv2")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    assert writer.isOpened()
    for index in frames:
        writer.write(_frame(index))
    writer.release()


def test_video_windows_equal_the_cut_files(tmp_path):
    """An intra-only (MJPG) video cut at frame boundaries holds the same frames, byte for byte."""
    fps, count = 8.0, 200  # 25 s: windows of 80 frames every 40, the last ending at frame 200
    _write_video(tmp_path / "long.avi", range(count), fps)
    stream = open_segments(Modality.VISION, tmp_path / "long.avi", SMALL)
    segments = list(stream.inputs)
    assert [s.start for s in segments] == [0.0, 5.0, 10.0, 15.0]
    assert len(segments) == stream.total and segments[-1].end == 25.0
    for number, segment in enumerate(segments):
        cut = tmp_path / f"cut{number}.avi"
        _write_video(cut, range(round(segment.start * fps), round(segment.end * fps)), fps)
        assert torch.equal(segment.make(), load_image(cut, SMALL)), segment.start


def test_a_picture_has_no_segments(tmp_path):
    picture = tmp_path / "still.png"
    Image.fromarray(_frame(0)).save(picture)
    assert open_segments(Modality.VISION, picture, SMALL).total == 0


def _write_imu(path, t: np.ndarray, values: np.ndarray, header: bool = True) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(["timestamp", "ax", "ay", "az", "gx", "gy", "gz"])
        writer.writerows([f"{t[i]:.4f}", *(f"{v:.5f}" for v in values[i])] for i in range(len(t)))


def test_imu_windows_equal_the_cut_files(tmp_path):
    rng = np.random.default_rng(1)
    t = 3.0 + np.cumsum(rng.uniform(0.004, 0.006, 1500))  # about 7.5 s at an uneven 200 Hz, 2 s windows
    values = np.cumsum(rng.normal(0, 0.1, (len(t), 6)), axis=0)
    values[100:110, 2] = np.nan
    _write_imu(tmp_path / "long.csv", t, values)
    stream = open_segments(Modality.IMU, tmp_path / "long.csv", SMALL)
    segments = list(stream.inputs)
    assert len(segments) == stream.total >= 6
    parsed = np.loadtxt(tmp_path / "long.csv", delimiter=",", skiprows=1)
    elapsed = parsed[:, 0] - parsed[:, 0].min()
    for number, segment in enumerate(segments):
        rows = (elapsed >= segment.start) & (elapsed < segment.end)
        cut = tmp_path / f"cut{number}.csv"
        _write_imu(cut, parsed[rows, 0], parsed[rows, 1:])
        assert torch.equal(segment.make(), load_imu(cut, SMALL)), segment.start


def test_imu_without_timestamps_is_cut_by_rows(tmp_path):
    values = np.random.default_rng(2).normal(0, 1, (1000, 6))
    np.save(tmp_path / "long.npy", values)
    segments = list(open_segments(Modality.IMU, tmp_path / "long.npy", SMALL).inputs)
    assert [(s.start, s.end) for s in segments] == [(0.0, 2.0), (1.0, 3.0), (2.0, 4.0), (3.0, 5.0)]
    for segment in segments:
        rows = values[round(segment.start * 200) : round(segment.end * 200)]
        np.save(tmp_path / "cut.npy", rows)
        assert torch.equal(segment.make(), load_imu(tmp_path / "cut.npy", SMALL))


def test_an_imu_window_without_numbers_is_its_own_error(tmp_path):
    values = np.random.default_rng(3).normal(0, 1, (1000, 6))
    values[500:, 0] = np.nan
    np.save(tmp_path / "gap.npy", values)
    segments = list(open_segments(Modality.IMU, tmp_path / "gap.npy", SMALL).inputs)
    assert isinstance(segments[0].make(), torch.Tensor)
    with pytest.raises(InvalidSignal, match="channel ax"):
        segments[-1].make()
