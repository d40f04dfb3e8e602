from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from engine.preprocess import CorruptFile, EmptyFile, FileTooLarge, InvalidSignal, Limits, UnsupportedFile, load_audio
from engine.preprocess.spec import PreprocessSpec
from tests.files import tone, write_audio


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("a.wav", {}),
        ("a.flac", {}),
        ("a.ogg", {"format": "OGG", "subtype": "VORBIS"}),
        ("a.mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"}),
    ],
)
def test_formats_load_to_spec_shape(tmp_path, name, kwargs):
    out = load_audio(write_audio(tmp_path / name, seconds=2.5, rate=22050, **kwargs))
    assert out.shape == (3, 1, 128, 204)
    assert torch.isfinite(out).all()


def test_lossy_formats_are_close_to_lossless(tmp_path):
    wav = load_audio(write_audio(tmp_path / "a.wav", seconds=2.0))
    ogg = load_audio(write_audio(tmp_path / "a.ogg", seconds=2.0, format="OGG", subtype="VORBIS"))
    loud = wav > wav.mean()  # compare where there is energy; codecs drop near-silent bands
    assert (wav[loud] - ogg[loud]).abs().mean() < 0.1


def test_only_the_first_channel_is_heard(tmp_path):
    data = tone(2.0, channels=1)
    stereo = np.concatenate([data, np.zeros_like(data)], axis=1)
    soundfile.write(tmp_path / "stereo.wav", stereo, 16000)
    soundfile.write(tmp_path / "mono.wav", data, 16000)
    torch.testing.assert_close(
        load_audio(tmp_path / "stereo.wav"), load_audio(tmp_path / "mono.wav"), atol=1e-3, rtol=0
    )


def test_any_sample_rate_is_resampled(tmp_path):
    low = load_audio(write_audio(tmp_path / "8k.wav", seconds=3.0, rate=8000))
    high = load_audio(write_audio(tmp_path / "48k.wav", seconds=3.0, rate=48000))
    peak = high.flatten().argmax()
    assert abs(float(low.flatten()[peak]) - float(high.flatten()[peak])) < 0.1  # the same tone, the same peak bin


def test_spec_drives_mel_bins_and_length():
    spec = PreprocessSpec(audio_num_mel_bins=64, audio_target_len=100, audio_clips=2)
    from engine.preprocess.audio import waveform_to_clips

    out = waveform_to_clips(torch.from_numpy(tone(3.0).T.copy()), 16000, spec)
    assert out.shape == (2, 1, 64, 100)


def test_empty_file(tmp_path):
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(EmptyFile, match="e.wav"):
        load_audio(tmp_path / "e.wav")


def test_zero_length_sound(tmp_path):
    soundfile.write(tmp_path / "zero.wav", np.zeros((0, 1), dtype=np.float32), 16000)
    with pytest.raises(InvalidSignal, match="zero.wav: the sound has no samples"):
        load_audio(tmp_path / "zero.wav")


def test_too_short_for_one_frame(tmp_path):
    soundfile.write(tmp_path / "blip.wav", tone(0.01), 16000)
    with pytest.raises(InvalidSignal, match="at least 25 ms"):
        load_audio(tmp_path / "blip.wav")


def test_all_nan_signal(tmp_path):
    soundfile.write(tmp_path / "nan.wav", np.full((16000, 1), np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(InvalidSignal, match="NaN"):
        load_audio(tmp_path / "nan.wav")


def test_some_nan_samples_are_silenced(tmp_path):
    data = tone(2.0)
    data[1000:1100] = np.nan
    soundfile.write(tmp_path / "holes.wav", data, 16000, subtype="FLOAT")
    assert torch.isfinite(load_audio(tmp_path / "holes.wav")).all()


def test_truncated_file(tmp_path):
    data = write_audio(tmp_path / "full.flac", seconds=3.0).read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[:200])
    with pytest.raises((CorruptFile, UnsupportedFile), match="cut.flac"):
        load_audio(tmp_path / "cut.flac")


def test_mislabelled_picture_as_wav(tmp_path):
    from tests.files import write_image

    (tmp_path / "photo.wav").write_bytes(write_image(tmp_path / "p.png").read_bytes())
    with pytest.raises(UnsupportedFile, match="photo.wav: not a sound format"):
        load_audio(tmp_path / "photo.wav")


def test_duration_limit(tmp_path):
    path = write_audio(tmp_path / "long.wav", seconds=3.0)
    with pytest.raises(FileTooLarge, match="s limit"):
        load_audio(path, limits=Limits(max_audio_seconds=2.0))
