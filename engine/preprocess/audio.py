"""Sound files -> mel-spectrogram clips for the audio encoder, as the reference computes them.

Decoding is libsndfile's (WAV, FLAC, OGG/Vorbis, MP3, AIFF...). Then, as the reference:
resample to 16 kHz (torchaudio's sinc resampler), cut ``audio_clips`` clips of 2 s spread
evenly over the file, centre each clip, take the Kaldi fbank of its *first channel*
(that is what the released checkpoint was trained on), pad or cut to ``audio_target_len``
frames and normalise with the fixed mean and std.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import torch

from engine.preprocess.clips import clip_spans
from engine.preprocess.errors import CorruptFile, FileTooLarge, InvalidSignal, UnsupportedFile
from engine.preprocess.files import DEFAULT_LIMITS, Limits, check_file
from engine.preprocess.spec import DEFAULT_SPEC, PreprocessSpec

FRAME_LENGTH_MS = 25.0
FRAME_SHIFT_MS = 10.0
_IMPORTED_ON_FIRST_USE = ("soundfile", "torchaudio.compliance.kaldi", "torchaudio.functional")


def import_dependencies() -> None:
    """Import the decoder and torchaudio now (they are imported on first use, to keep start-up light)."""
    for name in _IMPORTED_ON_FIRST_USE:
        importlib.import_module(name)


def read_waveform(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> tuple[torch.Tensor, int]:
    """Decode to float32 [channels, samples] in [-1, 1] and the file's sample rate."""
    import soundfile

    path = check_file(path, limits)
    sound_info(path, limits)
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
        raise CorruptFile(path, f"cannot decode the sound ({error})") from None
    return finite_samples(data, path), int(rate)


def sound_info(path: Path, limits: Limits = DEFAULT_LIMITS):
    """libsndfile's header of a checked file (rate, frames, channels), refused when unreadable or too long."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except soundfile.LibsndfileError as error:
        reason = str(error).split(":", 1)[-1].strip() or "unreadable"
        if "unknown format" in reason.lower() or "not recognised" in reason.lower():
            raise UnsupportedFile(path, f"not a sound format libsndfile reads ({reason})") from None
        raise CorruptFile(path, f"cannot decode the sound ({reason})") from None
    if info.samplerate <= 0:
        raise CorruptFile(path, "the sound reports no sample rate")
    if info.frames / info.samplerate > limits.max_audio_seconds:
        raise FileTooLarge(
            path, f"{info.frames / info.samplerate:,.0f} s is over the {limits.max_audio_seconds:,.0f} s limit"
        )
    return info


def finite_samples(data: np.ndarray, path) -> torch.Tensor:
    """Decoded [samples, channels] float32 -> [channels, samples], NaN and infinity read as silence."""
    if data.shape[0] == 0:
        raise InvalidSignal(path, "the sound has no samples")
    finite = np.isfinite(data)
    if not finite.any():
        raise InvalidSignal(path, "every sample is NaN or infinite")
    if not finite.all():
        data = np.where(finite, data, 0.0).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(data.T))


def waveform_to_clips(
    waveform: torch.Tensor, rate: int, spec: PreprocessSpec = DEFAULT_SPEC, path=None
) -> torch.Tensor:
    """[channels, samples] at ``rate`` -> [clips, 1, mel_bins, target_len] normalised fbanks."""
    from torchaudio.compliance import kaldi
    from torchaudio.functional import resample

    target = spec.audio_sample_rate
    if rate != target:
        waveform = resample(waveform, orig_freq=rate, new_freq=target)
    else:
        waveform = waveform.clone()  # clips are centred in place below
    minimum = int(target * FRAME_LENGTH_MS / 1000)
    if waveform.shape[1] < minimum:
        raise InvalidSignal(
            path, f"{waveform.shape[1] / target * 1000:.1f} ms of sound; at least {FRAME_LENGTH_MS:.0f} ms needed"
        )
    clips = []
    for start, end in clip_spans(waveform.shape[1] / target, spec.audio_clip_seconds, spec.audio_clips):
        # A view: the reference centres each clip in place, so a later clip that overlaps
        # an earlier one sees the earlier one's centring. Kept for exact parity.
        segment = waveform[:, int(start * target) : int(end * target)]
        segment -= segment.mean()
        fbank = kaldi.fbank(
            segment[:1],
            htk_compat=True,
            sample_frequency=target,
            use_energy=False,
            window_type="hanning",
            num_mel_bins=spec.audio_num_mel_bins,
            dither=0.0,
            frame_length=FRAME_LENGTH_MS,
            frame_shift=FRAME_SHIFT_MS,
        ).T
        frames = fbank.shape[1]
        if frames < spec.audio_target_len:
            fbank = torch.nn.functional.pad(fbank, (0, spec.audio_target_len - frames))
        clips.append(fbank[None, :, : spec.audio_target_len])
    return (torch.stack(clips) - spec.audio_mean) / spec.audio_std


def load_audio(
    path: str | Path, spec: PreprocessSpec | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> torch.Tensor:
    """A sound file -> [clips, 1, mel_bins, target_len] (huge: [3, 1, 128, 204])."""
    waveform, rate = read_waveform(path, limits=limits)
    return waveform_to_clips(waveform, rate, spec or DEFAULT_SPEC, path=path)
