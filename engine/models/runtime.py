"""Where and in which precision the encoders run: CUDA with half-precision autocast when present,
else the CPU, where large towers run through OpenVINO in int8; all can be forced."""

from __future__ import annotations

import contextlib
import importlib.util
from dataclasses import dataclass

import torch

from engine.models.devices import DEVICE_CHOICES, PRECISION_CHOICES
from engine.models.errors import RuntimeUnavailable

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# Below this many trunk parameters a tower gains too little from int8 to pay for its conversion
# (tens of seconds on first use): the demo model's towers (< 1 M) stay in PyTorch under ``auto``.
INT8_MIN_PARAMETERS = 10_000_000


@dataclass(frozen=True)
class Runtime:
    """``int8_min_parameters`` is None for PyTorch alone, else the size from which a tower runs in OpenVINO."""

    device: torch.device
    dtype: torch.dtype
    int8_min_parameters: int | None = None

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def int8(self) -> bool:
        return self.int8_min_parameters is not None

    @property
    def precision(self) -> str:
        return "int8" if self.int8 else str(self.dtype).removeprefix("torch.")

    def autocast(self):
        """Mixed precision for the forward pass; a no-op in float32."""
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def describe(self) -> str:
        if self.is_cuda:
            name = torch.cuda.get_device_name(self.device)
            return f"CUDA ({name}), {self.precision}"
        if self.int8:
            return "CPU, OpenVINO int8 for large encoders"
        return f"CPU, {self.precision}"


def openvino_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("openvino", "nncf"))


def choose_runtime(device: str = "auto", precision: str = "auto") -> Runtime:
    """Resolve ``auto`` choices: CUDA + float16 when a GPU is visible, else the CPU in int8 for
    large towers (float32 when OpenVINO is not installed).

    float16 rather than bfloat16 is the CUDA default: with autocast keeping LayerNorm and
    softmax in float32 it stays closer to float32 embeddings (more mantissa bits).
    """
    if device not in DEVICE_CHOICES:
        raise RuntimeUnavailable(f"unknown device {device!r} (choose from {', '.join(DEVICE_CHOICES)})")
    if precision not in PRECISION_CHOICES:
        raise RuntimeUnavailable(f"unknown precision {precision!r} (choose from {', '.join(PRECISION_CHOICES)})")
    has_cuda = torch.cuda.is_available()
    if device == "cuda" and not has_cuda:
        raise RuntimeUnavailable("CUDA was asked for, but PyTorch sees no CUDA GPU on this machine")
    target = torch.device("cuda" if device == "cuda" or (device == "auto" and has_cuda) else "cpu")
    if precision == "auto" and target.type == "cpu":
        if openvino_installed():
            return Runtime(target, torch.float32, INT8_MIN_PARAMETERS)
        precision = "float32"
    if precision == "auto":
        precision = "float16"
    if precision == "int8":
        if target.type == "cuda":
            raise RuntimeUnavailable("int8 runs on the CPU (through OpenVINO); use float16 on a CUDA GPU")
        if not openvino_installed():
            raise RuntimeUnavailable("int8 needs OpenVINO and NNCF: pip install openvino nncf")
        return Runtime(target, torch.float32, 0)
    if precision == "float16" and target.type != "cuda":
        raise RuntimeUnavailable("float16 needs a CUDA GPU; use float32 or bfloat16 on the CPU")
    if precision == "bfloat16" and target.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise RuntimeUnavailable("this GPU does not support bfloat16; use float16")
    return Runtime(target, _DTYPES[precision])
