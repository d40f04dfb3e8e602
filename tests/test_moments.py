"""The encoder embeds a long recording's windows: the cut files' vectors, in batches, with progress and cancel."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from engine.encoder import Encoder
from engine.modality import Modality
from engine.preprocess import CorruptFile
from engine.preprocess.windows import Segment


def _long_sound(path, seconds: float, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.4 * np.sin(2 * np.pi * 220 * t * (1 + t / seconds)) + rng.normal(0, 0.05, len(t))).astype(np.float32)
    soundfile.write(path, samples, rate, subtype="FLOAT")
    return samples


def test_segment_vectors_are_the_cut_files_vectors(tmp_path, tiny_model):
    samples = _long_sound(tmp_path / "long.wav", 16.0)
    seen = []
    result = Encoder(tiny_model, batch_size=2, workers=1).encode_segments(
        Modality.AUDIO, tmp_path / "long.wav", progress=lambda _phase, done, total: seen.append((done, total))
    )
    assert result.complete and not result.failed
    assert [(s.start, s.end) for s in result.segments] == [(0, 6), (3, 9), (6, 12), (9, 15), (10, 16)]
    assert seen[-1] == (5, 5) and len(seen) == 3  # batches of 2, 2 and 1
    cuts = []
    for number, segment in enumerate(result.segments):
        assert isinstance(segment, Segment) and np.isfinite(segment.vector).all()
        cuts.append(tmp_path / f"cut{number}.wav")
        soundfile.write(
            cuts[-1], samples[int(segment.start * 16000) : int(segment.end * 16000)], 16000, subtype="FLOAT"
        )
    whole = Encoder(tiny_model, batch_size=8, workers=1).encode_files(Modality.AUDIO, cuts)
    for segment, cut in zip(result.segments, whole, strict=True):
        assert float(segment.vector @ cut.embedding) >= 0.9999


def test_cancel_stops_between_batches(tmp_path, tiny_model):
    _long_sound(tmp_path / "long.wav", 30.0)
    calls = []
    result = Encoder(tiny_model, batch_size=2, workers=1).encode_segments(
        Modality.AUDIO,
        tmp_path / "long.wav",
        progress=lambda _phase, done, total: calls.append(done),
        cancelled=lambda: bool(calls),
    )
    assert not result.complete and len(result.segments) == 2 and calls == [2]


def test_a_file_shorter_than_a_window_has_no_segments(tmp_path, tiny_model):
    _long_sound(tmp_path / "short.wav", 4.0)
    result = Encoder(tiny_model, workers=1).encode_segments(Modality.AUDIO, tmp_path / "short.wav")
    assert result.complete and result.segments == [] and result.failed == []


def test_an_unreadable_file_raises_its_typed_error(tmp_path, tiny_model):
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    with pytest.raises(CorruptFile, match="broken.wav"):
        Encoder(tiny_model, workers=1).encode_segments(Modality.AUDIO, tmp_path / "broken.wav")


def test_a_window_that_fails_is_listed_and_the_others_go_on(tmp_path, tiny_model):
    window = int(tiny_model.spec.imu_length)
    values = np.random.default_rng(4).normal(0, 1, (window * 3, 6))
    values[window * 2 :, 3] = np.nan  # the last window's gx holds no numbers
    np.save(tmp_path / "gap.npy", values)
    result = Encoder(tiny_model, batch_size=2, workers=1).encode_segments(Modality.IMU, tmp_path / "gap.npy")
    assert result.complete and len(result.segments) == 4
    assert [(start, end) for start, end, _ in result.failed] == [(window * 2 / 200, window * 3 / 200)]
    assert "channel gx" in str(result.failed[0][2])
