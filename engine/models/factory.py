"""One factory from a model name to a ready model (weights loaded, on its device, in eval mode)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch

from engine.modality import Modality
from engine.models.download import download
from engine.models.identity import ModelRef, ref_for_network
from engine.models.imagebind import ImageBindModel
from engine.models.remembered import remembered
from engine.models.runtime import Runtime, choose_runtime
from engine.models.runtimes.openvino_towers import OpenVINOTowers
from engine.models.weights import WeightsError, check_compatible, check_finite, read_state_dict
from engine.models.zoo import ModelEntry, ModelUnavailable, resolve
from engine.preprocess.spec import PreprocessSpec, config_mismatches
from engine.progress import Cancelled, Progress, never


@dataclass
class LoadedModel:
    entry: ModelEntry
    network: ImageBindModel
    runtime: Runtime
    _openvino: object | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def spec(self) -> PreprocessSpec:
        return self.entry.spec

    @property
    def embed_dim(self) -> int:
        return self.entry.config.out_embed_dim

    def describe(self) -> str:
        return f"{self.entry.title} on {self.runs_on()}"

    def runs_on(self) -> str:
        """What computes this model's vectors: the towers OpenVINO runs named, or the plain runtime when none is
        large enough for it (the runtime's own description names the policy, not what it chose for this model)."""
        fast = self.int8_towers
        if fast:
            return f"CPU, OpenVINO int8 ({', '.join(m.value for m in fast)}), float32 for the rest"
        return "CPU, float32" if self.runtime.int8 else self.runtime.describe()

    @cached_property
    def ref(self) -> ModelRef:
        """Who this model is (what a library records): from its weights file, else from its tensors."""
        return ref_for_network(self.entry, self.network)

    @cached_property
    def int8_towers(self) -> tuple[Modality, ...]:
        """The towers this runtime runs through OpenVINO in int8 (none unless the runtime is int8)."""
        if not self.runtime.int8:
            return ()
        trunks = self.network.modality_trunks
        size = {m: sum(p.numel() for p in trunks[m.value].parameters()) for m in Modality}
        return tuple(m for m in Modality if size[m] >= self.runtime.int8_min_parameters)

    def vectors_made_by(self) -> str:
        """Which runtime and precision compute each modality's vectors, as a library records it."""
        fast = self.int8_towers
        exact = [m.value for m in Modality if m not in fast]
        if not fast:
            return f"PyTorch, {self.runs_on()}"
        made = f"OpenVINO int8 ({', '.join(m.value for m in fast)})"
        return made + (f"; PyTorch float32 ({', '.join(exact)})" if exact else "")

    @torch.inference_mode()
    def embed(self, modality: Modality, batch: torch.Tensor) -> torch.Tensor:
        """A batch on any device -> the model's post-processed (scaled) outputs in float32 on the CPU."""
        if modality in self.int8_towers:
            return self._openvino_towers().run(modality, batch.float() if batch.is_floating_point() else batch)
        batch = batch.to(self.runtime.device, non_blocking=self.runtime.is_cuda)
        with self.runtime.autocast():
            out = self.network.encode(modality, batch)
        return out.float().cpu()

    def _openvino_towers(self):
        if self._openvino is None:
            self._openvino = OpenVINOTowers(self.network, self.ref.fingerprint)
        return self._openvino


def fetch_weights(entry: ModelEntry, progress: Progress | None = None, cancelled: Cancelled = never) -> Path:
    """Download a model's weights into the cache unless they are already there."""
    if entry.available:
        return entry.weights_path
    if not entry.downloadable:
        raise ModelUnavailable(f"{entry.title}: weights not found at {entry.weights_path}")
    return download(
        entry.weights.url,
        entry.weights_path,
        min_size=entry.weights.min_bytes,
        sha256=entry.weights.sha256,
        progress=progress,
        cancelled=cancelled,
    )


def load_model(
    name_or_entry: str | Path | ModelEntry,
    *,
    device: str = "auto",
    precision: str = "auto",
    allow_download: bool = False,
    progress: Progress | None = None,
    cancelled: Cancelled = never,
) -> LoadedModel:
    """Resolve, (optionally download,) check and load a model.

    The network is built on the meta device and takes the checkpoint's (memory-mapped)
    tensors as they are, so ImageBind-huge loads without a 1.2 B-parameter random init.
    Anything wrong with the file is a ``WeightsError`` naming it; a missing one, ``ModelUnavailable``.
    """
    entry = name_or_entry if isinstance(name_or_entry, ModelEntry) else resolve(name_or_entry)
    runtime = choose_runtime(device, precision)
    if not entry.available:
        if not (allow_download and entry.downloadable):
            hint = f"; run `bindscope models download {entry.name}`" if entry.downloadable else ""
            raise ModelUnavailable(f"{entry.title} is not on this machine (expected {entry.weights_path}){hint}")
        fetch_weights(entry, progress, cancelled)
    path = entry.weights_path
    mismatches = config_mismatches(entry.config, entry.spec)
    if mismatches:
        raise WeightsError(path, "its preprocessing does not fit its network: " + "; ".join(mismatches))
    if entry.weights.min_bytes and path.stat().st_size < entry.weights.min_bytes:
        raise WeightsError(
            path,
            f"{path.stat().st_size:,} bytes is smaller than the expected {entry.weights.min_bytes:,}; the file is truncated",
        )
    state = read_state_dict(path)
    model = _empty_network(entry, path)
    check_compatible(model, state, path)
    remembered(path, "finite", lambda: check_finite(model, state, path) or "finite")  # a damaged file raises
    model.load_state_dict(state, strict=True, assign=True)
    model = model.to(device=runtime.device, dtype=torch.float32).eval()
    return LoadedModel(entry, model, runtime)


def _empty_network(entry: ModelEntry, path: Path) -> ImageBindModel:
    """The network of ``entry``'s config on the meta device; a config read from a file may not build one."""
    try:
        with torch.device("meta"):
            return ImageBindModel(entry.config)
    except (TypeError, ValueError, ArithmeticError, AssertionError, RuntimeError) as error:
        raise WeightsError(
            path, f"its model config does not build a network ({type(error).__name__}: {error})"
        ) from None
