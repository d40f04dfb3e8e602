"""Reading, checking and writing model weights without ever unpickling arbitrary objects.

``.pth``/``.pt`` go through ``torch.load(weights_only=True, mmap=True)``; ``.safetensors``
through safetensors. Every failure becomes one ``WeightsError`` that names the file and says
what is wrong (missing, truncated, not a checkpoint, missing/unexpected keys, shape
mismatches) instead of a traceback from deep inside torch.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

_WRAPPER_KEYS = ("state_dict", "model", "module")
_MAX_LISTED = 6


class WeightsError(Exception):
    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, memory-mapped where the format allows."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(path, "no such file")
    if path.stat().st_size == 0:
        raise WeightsError(path, "the file is empty")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as error:
        if "mmap" not in str(error):
            raise WeightsError(path, _describe_torch_error(error)) from None
        state = _load_without_mmap(path)  # legacy (pre-1.6) serialisation cannot be mapped
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise WeightsError(path, _describe_torch_error(error)) from None
    return _unwrap(state, path)


def _load_without_mmap(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, OSError) as error:
        raise WeightsError(path, _describe_torch_error(error)) from None


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(path, f"not a readable safetensors file ({error})") from None


def _describe_torch_error(error: Exception) -> str:
    text = str(error)
    if (
        "failed finding central directory" in text
        or "failed reading zip archive" in text
        or isinstance(error, (EOFError, zipfile.BadZipFile))
    ):
        return "truncated or damaged checkpoint (the archive is incomplete); download it again"
    if "Weights only load failed" in text or isinstance(error, pickle.UnpicklingError):
        return "not a plain tensor checkpoint (it holds Python objects, which are never unpickled)"
    return f"cannot read the checkpoint ({text.splitlines()[0] if text else type(error).__name__})"


def _unwrap(state, path: Path) -> dict[str, torch.Tensor]:
    """Accept ``{"model": sd}``-style wrappers and DataParallel's ``module.`` prefix."""
    while isinstance(state, dict) and len(state) <= 4:
        inner = next((state[k] for k in _WRAPPER_KEYS if isinstance(state.get(k), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(path, "not a state dict of tensors")
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def check_compatible(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Raise a ``WeightsError`` listing missing/unexpected keys and shape mismatches, if any."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} (file {list(state[k].shape)}, model {list(expected[k].shape)})"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    problems = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched)):
        if keys:
            shown = ", ".join(keys[:_MAX_LISTED]) + (
                f" and {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else ""
            )
            problems.append(f"{len(keys)} {label}: {shown}")
    if problems:
        raise WeightsError(path, "does not fit this model config; " + "; ".join(problems))


def save_safetensors(
    model: nn.Module, path: str | Path, metadata: dict[str, str] | None = None, dtype: torch.dtype | None = None
) -> Path:
    """Write the model's tensors (optionally cast, e.g. to float16 to halve a shipped file)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = value.contiguous()
    save_file(tensors, str(path), metadata=metadata)
    return path
