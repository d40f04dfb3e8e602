"""Where the clips of a time signal lie: evenly spread, overlapping when the signal is short."""

from __future__ import annotations

from fractions import Fraction


def clip_spans(duration: float, clip_seconds: float, clips: int) -> list[tuple[Fraction, Fraction]]:
    """(start, end) in seconds of ``clips`` windows of ``clip_seconds`` spread evenly over ``duration``.

    Exact fractions of the float duration, as the reference's clip sampler computes them,
    so that ``int(start * rate)`` and ``int(end * rate)`` pick the reference's samples
    (a float end would round 3.6499999 s up to sample 58400 instead of 58399).
    """
    length = Fraction(clip_seconds)
    step = Fraction(max(duration - clip_seconds, 0)) / max(clips - 1, 1)
    return [(step * i, step * i + length) for i in range(clips)]
