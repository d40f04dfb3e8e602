"""ImageBind towers run by OpenVINO in int8: the CPU's fast path.

A tower (tokenizer, trunk, head, post-processor) is converted from the PyTorch network on first
use, its weights compressed to symmetric int8 per output channel (``nncf.compress_weights``), and
cached under the user cache, keyed by the model's fingerprint and the OpenVINO and NNCF versions,
so a retrained checkpoint or an upgraded runtime never reuses an old conversion. A cache entry
counts only once its manifest (written last) matches the files' sizes and OpenVINO loads it; anything else (a truncated file, an interrupted build) is rebuilt.

At inference the CPU plugin quantizes each matrix product's activations to int8 on the fly, in groups
of 256 along the inner dimension, so the product runs on the CPU's int8 units (VNNI) with symmetric
weights. Measured on ImageBind-huge's vision tower (2 threads, this project's CPU): 1.22 images/s for
asymmetric weights with the plugin's default groups of 32, 1.79 for symmetric weights in groups of 256,
at cosine 0.99982 to float32 (random weights). Everything else stays float32 (no bf16 on CPUs that
have it), for the fidelity measured here: cosine >= 0.9995 to PyTorch float32 on the demo model's
trained weights (tests/models/test_int8.py).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.modality import Modality
from engine.models.imagebind import ImageBindModel

log = logging.getLogger("bindscope.runtime")
Report = Callable[[str], None]
_MANIFEST = "manifest.json"
_COMPILE = {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "256"}


def versions() -> str:
    """The runtime's versions, from the installed packages' metadata: importing NNCF costs a second, and only a
    conversion needs it."""
    from importlib.metadata import version

    return f"openvino-{version('openvino')}-nncf-{version('nncf')}-int8sym"


def cache_root() -> Path:
    from engine.models.zoo import cache_dir

    return cache_dir() / "converted"


class _Tower(nn.Module):
    """One modality's path through the network, as the PyTorch runtime runs it (``ImageBindModel.encode``)."""

    def __init__(self, model: ImageBindModel, modality: Modality):
        super().__init__()
        self.model, self.modality = model, modality

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode(self.modality, x)


class OpenVINOTowers:
    """The converted towers of one model, each compiled once and kept."""

    def __init__(self, model: ImageBindModel, fingerprint: str, report: Report = log.info):
        self.model, self.report = model, report
        self.folder = cache_root() / fingerprint / versions()
        self._compiled: dict[Modality, object] = {}

    def run(self, modality: Modality, batch: torch.Tensor) -> torch.Tensor:
        compiled = self._compiled.get(modality)
        if compiled is None:
            compiled = self._compiled[modality] = self.load(modality, batch)
        return torch.from_numpy(np.asarray(compiled(batch.numpy())[0]))

    def load(self, modality: Modality, example: torch.Tensor):
        """The compiled tower, from the cache when it is whole, else converted (and cached) now."""
        try:
            return _compile(_read(self.folder / modality.value))
        except (OSError, ValueError, RuntimeError) as error:
            if (self.folder / modality.value).exists():
                self.report(
                    f"{modality.value} encoder: the converted model in the cache is unusable ({error}); rebuilding"
                )
        self._convert(modality, example)
        return _compile(_read(self.folder / modality.value))

    def _convert(self, modality: Modality, example: torch.Tensor) -> None:
        import nncf
        import openvino

        target = self.folder / modality.value
        steps = ("trace the PyTorch tower", "compress its weights to int8", "save it")
        say = lambda step: self.report(  # noqa: E731
            f"{modality.value} encoder, first use on OpenVINO: {step} ({steps.index(step) + 1}/{len(steps)})"
        )
        start = time.perf_counter()
        say(steps[0])
        with torch.inference_mode(False), torch.no_grad():
            converted = openvino.convert_model(_Tower(self.model, modality).eval(), example_input=example[:1])
        say(steps[1])
        converted = nncf.compress_weights(converted, mode=nncf.CompressWeightsMode.INT8_SYM)
        say(steps[2])
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{modality.value}-", dir=self.folder))
        try:
            openvino.save_model(converted, staging / "model.xml", compress_to_fp16=False)
            del converted
            sizes = {name: (staging / name).stat().st_size for name in ("model.xml", "model.bin")}
            (staging / _MANIFEST).write_text(json.dumps({"sizes": sizes, "versions": versions()}))
            _put_in_place(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            gc.collect()
        self.report(f"{modality.value} encoder converted in {time.perf_counter() - start:.0f} s, cached in {target}")


def _put_in_place(staging: Path, target: Path) -> None:
    """Replace ``target`` with the finished ``staging`` folder. Another process converting the same tower at the same
    time (the app and the command line on first use) may put its own there first: when the rename fails and what
    stands at ``target`` is complete, that conversion is as good as this one."""
    shutil.rmtree(target, ignore_errors=True)
    try:
        os.replace(staging, target)
    except OSError as error:
        try:
            _read(target)
        except ValueError:
            raise error from None


def _read(folder: Path):
    """A cached tower that its manifest vouches for; ValueError when it is missing, partial or from elsewhere."""
    import openvino

    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
    except (OSError, ValueError):
        raise ValueError("no complete conversion") from None
    if not isinstance(manifest, dict) or manifest.get("versions") != versions():
        raise ValueError("made by another runtime version")
    for name, size in dict(manifest.get("sizes", {})).items():
        actual = (folder / name).stat().st_size if (folder / name).is_file() else None
        if actual != size:
            raise ValueError(f"{name} has {actual} bytes, {size} expected")
    return openvino.Core().read_model(folder / "model.xml")


def _compile(converted):
    import openvino

    return openvino.Core().compile_model(converted, "CPU", _COMPILE)
