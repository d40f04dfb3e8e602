"""A library's network on this machine: which checkpoint, loaded once on first use, and what runs it.

The workspace holds one ``ModelHandle``. It knows where a model is found (the checkpoint asked for,
else the one the library records, else, for a new library, the preferred or best available one),
loads it once under a lock (two threads may ask at once) and drops what was loaded when the device
or the checkpoint changes. What a library requires of the model (its fingerprint) is the
workspace's to check, through the ``check`` it passes to ``loaded``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from engine.models.errors import ModelUnavailable
from engine.models.identity import ModelRef
from engine.models.zoo import ModelEntry, default_entry, resolve

if TYPE_CHECKING:
    from engine.models.factory import LoadedModel

Runner = TypeVar("Runner")  # what runs batches through the network (the encoder, on the floor above)


class ModelHandle:
    def __init__(self, requested: str | None, preferred: str | None, device: str, precision: str):
        """``requested``: the checkpoint (or name) given for this session; ``preferred``: the model a new library
        takes when none is requested (the app's setting)."""
        self.requested, self.preferred = requested, preferred
        self.device, self.precision = device, precision
        self._loaded: LoadedModel | None = None
        self._runner = None
        self._lock = threading.Lock()

    def entry(self, recorded: ModelRef | None) -> ModelEntry | None:
        """Where the model recorded by a library (or, with none recorded, the one a new library takes) is found here;
        None when it is not on this machine."""
        if recorded is None:
            if self.requested:
                return resolve(self.requested)
            return self._available(self.preferred) or default_entry()  # a preference: the best available otherwise
        return self._available(self.requested) or self._available(recorded.name)

    @staticmethod
    def _available(name: str | None) -> ModelEntry | None:
        """The entry a name gives, when its weights are on this machine."""
        if not name:
            return None
        try:
            entry = resolve(name)
        except (ModelUnavailable, ValueError):
            return None
        return entry if entry.available else None

    def loaded(self, check: Callable[[], ModelEntry]) -> LoadedModel:
        """The loaded model, loaded on first use from the entry ``check`` returns (it raises when the model cannot
        be used)."""
        from engine.models.factory import load_model

        with self._lock:
            if self._loaded is None:
                self._loaded = load_model(check(), device=self.device, precision=self.precision)
            return self._loaded

    def runner(self, loaded: LoadedModel, make: Callable[[LoadedModel], Runner]) -> Runner:
        """What ``make`` builds over ``loaded`` (the encoder), made once for it and dropped with it."""
        with self._lock:
            if self._runner is None or self._runner.model is not loaded:
                self._runner = make(loaded)
            return self._runner

    def locate(self, path: str | Path) -> None:
        """Use the checkpoint at ``path`` from now on (loaded when next needed)."""
        with self._lock:
            self.requested, self._loaded, self._runner = os.fspath(path), None, None

    def use_device(self, device: str) -> None:
        """Run on another device from now on (loaded again when next needed)."""
        with self._lock:
            self.device, self._loaded, self._runner = device, None, None

    def adopt(self, loaded: LoadedModel) -> None:
        """Use ``loaded``, already loaded (the model a re-embed has just switched the library to)."""
        with self._lock:
            self.requested, self._loaded, self._runner = None, loaded, None
