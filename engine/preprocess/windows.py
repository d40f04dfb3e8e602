"""Moments: where the windows of a long audio, video or IMU recording lie, and what a segment is.

The reference turns a whole file into one vector from a few short clips (audio: 3 clips of
2 s, video: 5 clips of 2 s, IMU: the first ``imu_length`` samples), so it cannot say *when*
something happens. A segment is a window of the file embedded exactly as the reference
embeds the file cut to that window; windows overlap and cover the whole file.

Why these windows (all derived from the model's ``PreprocessSpec``, never hard-coded):

* audio: ``audio_clips x audio_clip_seconds`` (huge: 6 s). On a file cut to exactly that
  span the reference's evenly spread clips start at 0, 2 and 4 s, so they lie side by side
  and read every sample of the window once: no gap, and no overlap (the reference centres
  overlapping clips in place, which would make a clip depend on its neighbour).
* video: ``video_clips x video_clip_seconds`` (huge: 10 s), for the same reason.
* IMU: ``imu_length / imu_sample_rate`` (huge: 2000 samples at 200 Hz = 10 s), the span the
  encoder reads; a shorter window would be zero-padded, a longer one cut.
* hop: half a window by default, so every instant but the first and last half-window lies in two
  windows and any event up to half a window long lies wholly inside one of them (a library may
  choose another fraction: ``bindscope index --moments-hop F``, for the files it cuts from then on).
* the last window is aligned to the end of the file (it may overlap its neighbour by more
  than half), so the end is covered; a file no longer than one window has no segments:
  its whole-file vector already is its only window.

Windows are counted in the file's own units (samples at its rate, video frames, IMU samples
on the resampled grid), so that cutting the file there is exact; ``Window.start``/``end``
give the seconds.

Storage (``engine.library.segments``): a segment is keyed by its file's content (hash, modality),
the model and (start, end) in seconds as float64 (the exact values computed here, so
re-embedding finds the same rows); its vector is a row of the model's segment files, searched
by the same index machinery as the items (``SearchIndex(..., segments=True)``). A changed or
forgotten file's segments go with the last item holding its content; a model change
re-embeds them like every other vector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from engine.modality import Modality
from engine.preprocess.errors import PreprocessError
from engine.preprocess.spec import PreprocessSpec

SEGMENTED = (Modality.AUDIO, Modality.VISION, Modality.IMU)  # vision: video files only


class Segment(NamedTuple):
    """One embedded window: ``start``/``end`` in seconds from the file's start, a finite unit-norm vector and its
    scale (vector x scale is the model's output, as for a whole file)."""

    start: float
    end: float
    vector: np.ndarray
    scale: float


@dataclass
class SegmentEmbeddings:
    """A file's embedded windows in time order; windows that failed say why; ``complete`` is False when cancelled."""

    source: str
    segments: list[Segment] = field(default_factory=list)
    failed: list[tuple[float, float, PreprocessError]] = field(default_factory=list)
    complete: bool = True


@dataclass(frozen=True)
class WindowPlan:
    """A modality's window and hop, in seconds."""

    window_seconds: float
    hop_seconds: float

    def in_units(self, rate: float) -> tuple[int, int]:
        """(window, hop) in units of a signal sampled at ``rate`` per second (hop at least one unit)."""
        window = max(1, round(self.window_seconds * rate))
        return window, max(1, min(window, round(self.hop_seconds * rate)))


HOP_FRACTION = 0.5  # the hop a library cuts with unless set (``Library.set_moments_hop``)
HOP_TOLERANCE = 1e-3  # a content cut with a hop further than this from the library's is cut again


def check_hop(hop_fraction: float) -> float:
    """A hop as a fraction of the window: in (0, 1] (1: windows side by side, no overlap)."""
    if not 0 < hop_fraction <= 1:
        raise ValueError(f"the hop is a fraction of the window in (0, 1], got {hop_fraction}")
    return float(hop_fraction)


def stored_hop(text: str | None) -> float:
    """A hop as a library stores it (a setting's text); the default when unset or a value no version writes."""
    try:
        return check_hop(float(text)) if text is not None else HOP_FRACTION
    except ValueError:
        return HOP_FRACTION


def window_plan(modality: Modality, spec: PreprocessSpec, hop_fraction: float = HOP_FRACTION) -> WindowPlan:
    """The window the reference recipe covers for ``modality`` under ``spec``, hopped by ``hop_fraction`` of it."""
    check_hop(hop_fraction)
    if modality is Modality.AUDIO:
        window = spec.audio_clips * spec.audio_clip_seconds
    elif modality is Modality.VISION:
        window = spec.video_clips * spec.video_clip_seconds
    elif modality is Modality.IMU:
        window = spec.imu_length / spec.imu_sample_rate
    else:
        raise ValueError(f"{modality.value} files have no time axis to cut into segments")
    return WindowPlan(window, window * hop_fraction)


def window_starts(total: int, window: int, hop: int) -> list[int]:
    """Starts of windows of ``window`` units every ``hop`` units over ``total``, the last one ending at ``total``.

    Empty when the signal is no longer than one window.
    """
    if total <= window:
        return []
    starts = list(range(0, total - window + 1, hop))
    if starts[-1] != total - window:
        starts.append(total - window)
    return starts
