"""Sound files -> mel-spectrogram clips for the audio encoder, as the reference computes them.

Decoding is libsndfile's (WAV, FLAC, OGG/Vorbis, MP3, AIFF...). Then, as the reference:
resample to 16 kHz (torchaudio's sinc resampler), cut ``audio_clips`` clips of 2 s spread
evenly over the file, centre each clip, take the Kaldi fbank of its *first channel*
(that is what the released checkpoint was trained on), pad or cut to ``audio_target_len``
frames and normalise with the fixed mean and std.
"""

from __future__ import annotations

import importlib
import math
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
        if "possibly a pipe" in reason:  # libsndfile's words for a regular file in which it finds no sound
            with path.open("rb") as handle:
                tagged = handle.read(3) == b"ID3"
            raise CorruptFile(
                path, "an ID3 tag with no audio after it" if tagged else "no sound data found in it"
            ) from None
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
    """[channels, samples] at ``rate`` -> [clips, 1, mel_bins, target_len] normalised fbanks.

    The reference resamples the whole file and then cuts ``audio_clips`` clips of 2 s: a
    4-hour, 8-channel file sampled at 1 Hz became 7 GB at 16 kHz. This resamples only the
    clips' spans (every channel: each clip's mean is over all of them), so memory is bounded
    by the clips, whatever the file's rate and length.
    """
    from torchaudio.compliance import kaldi

    target = spec.audio_sample_rate
    length = resampled_length(waveform.shape[1], rate, target)
    minimum = int(target * FRAME_LENGTH_MS / 1000)
    if length < minimum:
        raise InvalidSignal(path, f"{length / target * 1000:.1f} ms of sound; at least {FRAME_LENGTH_MS:.0f} ms needed")
    windows = [
        (int(start * target), min(int(end * target), length))
        for start, end in clip_spans(length / target, spec.audio_clip_seconds, spec.audio_clips)
    ]
    spans = _resampled_spans(waveform, rate, target, windows)
    clips = []
    for low, high in windows:
        # A view: the reference centres each clip in place, so a later clip that overlaps
        # an earlier one sees the earlier one's centring. Kept for exact parity.
        first, span = next((first, span) for first, span in spans if first <= low < first + span.shape[1])
        segment = span[:, low - first : high - first]
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


def resampled_length(samples: int, rate: int, target: int) -> int:
    """How many samples torchaudio's ``resample`` makes of ``samples`` (its own float32 rounding)."""
    if rate == target:
        return samples
    gcd = math.gcd(rate, target)
    return int(torch.ceil(torch.as_tensor(target // gcd * samples / (rate // gcd))))


def _resampled_spans(
    rows: torch.Tensor, rate: int, target: int, windows: list[tuple[int, int]]
) -> list[tuple[int, torch.Tensor]]:
    """(first sample, samples) of the resampled signal over each run of overlapping windows."""
    merged: list[list[int]] = []
    for low, high in sorted(windows):
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return [(low, resample_span(rows, rate, target, low, high)) for low, high in merged]


def resample_span(rows: torch.Tensor, rate: int, target: int, start: int, stop: int) -> torch.Tensor:
    """Samples ``start .. stop`` of torchaudio's ``resample(rows, rate, target)``, computing only those.

    torchaudio pads the signal (``width`` zeros before, ``width + rate`` after), convolves with
    one kernel row per output phase at a stride of ``rate`` (both divided by their gcd), and
    interleaves the phases: output block b reads padded input ``b x rate .. b x rate + kernel``.
    The same blocks are computed here from just the input they read.
    """
    if rate == target:
        return rows[:, start:stop].clone()
    from torchaudio.functional.functional import _get_sinc_resample_kernel

    gcd = math.gcd(rate, target)
    kernel, width = _get_sinc_resample_kernel(rate, target, gcd, dtype=rows.dtype)
    step, phases = rate // gcd, target // gcd
    first_block, last_block = start // phases, (stop - 1) // phases
    low = first_block * step - width
    high = last_block * step + kernel.shape[-1] - width
    length = rows.shape[1]
    window = rows[:, max(low, 0) : min(high, length)]
    window = torch.nn.functional.pad(window, (max(-low, 0), max(high - length, 0)))
    blocks = torch.nn.functional.conv1d(window[:, None], kernel, stride=step)
    samples = blocks.transpose(1, 2).reshape(rows.shape[0], -1)
    offset = start - first_block * phases
    return samples[:, offset : offset + stop - start]


def load_audio(
    path: str | Path, spec: PreprocessSpec | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> torch.Tensor:
    """A sound file -> [clips, 1, mel_bins, target_len] (huge: [3, 1, 128, 204])."""
    waveform, rate = read_waveform(path, limits=limits)
    return waveform_to_clips(waveform, rate, spec or DEFAULT_SPEC, path=path)
