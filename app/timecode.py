"""How a time in a recording is written for a person, in the command line and the app alike: m:ss.s, h:mm:ss.s."""

from __future__ import annotations


def clock(seconds: float) -> str:
    minutes, seconds = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{seconds:04.1f}" if hours else f"{minutes}:{seconds:04.1f}"


def span(start: float, end: float) -> str:
    """A window of a recording: ``1:03.0–1:09.0``."""
    return f"{clock(start)}–{clock(end)}"
