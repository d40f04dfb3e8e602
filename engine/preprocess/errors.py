"""Typed errors for bad input, each naming the file and the reason.

Loaders raise them; the encoder records them per item and moves on; the interfaces show
``str(error)``, which reads ``<path>: <reason>``. ``transient`` says whether trying the same
file again later can succeed (it was unreadable for now, or the device was out of memory), so
an indexer knows which failures to retry on the next scan.
"""

from __future__ import annotations

from pathlib import Path


class PreprocessError(Exception):
    """A file (or text) that cannot become a model input."""

    transient: bool = False

    def __init__(self, path: str | Path | None, reason: str):
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)

    @property
    def kind(self) -> str:
        return type(self).__name__


class UnreadableFile(PreprocessError):
    """Missing, a folder, or not permitted to read: the drive may come back, the permission may change."""

    transient = True


class UnsupportedFile(PreprocessError):
    """A format or modality no loader reads (or a file given to the wrong loader)."""


class CorruptFile(PreprocessError):
    """The decoder failed: truncated, damaged, or not what its extension says."""


class EmptyFile(CorruptFile):
    """Zero bytes."""


class FileTooLarge(PreprocessError):
    """Over a configured size limit, or an image that would decompress to too many pixels."""


class InvalidSignal(PreprocessError):
    """Decoded, but the content is unusable: no samples, all NaN/Inf, wrong shape, non-numeric cells."""


class DeviceOutOfMemory(PreprocessError):
    """The file is fine but the device (GPU or host memory) had no memory for it at that moment: smaller batches
    or a later try can work."""

    transient = True


def is_transient(kind: str | None) -> bool:
    """Whether a failure recorded under ``kind`` (an error's class name, as stored) may pass on a later try:
    the class's own ``transient``, so the rule is written once, on the classes."""
    return kind in _TRANSIENT_KINDS


def _kinds(base: type[PreprocessError]):
    yield base
    for sub in base.__subclasses__():
        yield from _kinds(sub)


_TRANSIENT_KINDS = frozenset(kind.__name__ for kind in _kinds(PreprocessError) if kind.transient)
