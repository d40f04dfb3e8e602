"""Why a model cannot be used, as one line naming the file and the reason; importable without torch."""

from __future__ import annotations

from pathlib import Path


class ModelUnavailable(Exception):
    """A model name that is unknown, or whose weights are not on this machine."""


class WeightsError(Exception):
    """A checkpoint (or the description beside it) that exists but cannot be used: ``<path>: <reason>``."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class RuntimeUnavailable(RuntimeError):
    """The requested device or precision does not exist on this machine."""
