"""Reading, checking and writing model weights without ever unpickling arbitrary objects.

``.pth``/``.pt`` go through ``torch.load(weights_only=True, mmap=True)``; ``.safetensors``
through safetensors. Every failure becomes one ``WeightsError`` that names the file and says
what is wrong (missing, truncated, not a checkpoint, missing/unexpected keys, shape
mismatches, NaN weights, damaged tensors) instead of a traceback from deep inside torch.

Safetensors files written here carry a SHA-256 of their tensors in the metadata
(``bindscope.sha256``) and one of the rest of the metadata, config and spec included
(``bindscope.metadata_sha256``); loading verifies both, so bytes damaged inside a tensor, which
the format itself cannot notice, and a description edited apart from its tensors are caught.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from engine.models.errors import WeightsError
from engine.models.remembered import remembered
from engine.models.safetensors_header import (  # beside the header reader, which needs no torch
    CHECKSUM_METADATA_KEY,
    checksum_of,  # noqa: F401 (part of this module's interface)
    read_metadata,
)

METADATA_CHECKSUM_KEY = "bindscope.metadata_sha256"
_WRAPPER_KEYS = ("state_dict", "model", "module")
_MAX_LISTED = 6
# torch dtype -> the name safetensors gives it in a file's header
_SAFETENSORS_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


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
    except Exception as error:  # a damaged archive can fail anywhere inside torch: one line, never a traceback
        raise WeightsError(path, _describe_torch_error(error)) from None
    return _unwrap(state, path)


def _load_without_mmap(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # as above
        raise WeightsError(path, _describe_torch_error(error)) from None


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    metadata = read_metadata(path)
    if METADATA_CHECKSUM_KEY in metadata and metadata[METADATA_CHECKSUM_KEY] != metadata_checksum(metadata):
        raise WeightsError(
            path, "its metadata (model config, preprocessing) does not match its checksum; it was edited"
        )
    expected = metadata.get(CHECKSUM_METADATA_KEY)
    try:
        tensors = load_file(str(path))
    except Exception as error:  # SafetensorError, or anything else a damaged file provokes
        raise WeightsError(path, f"not a readable safetensors file ({error})") from None
    if expected is not None and _verified_checksum(path, tensors) != expected:
        raise WeightsError(path, "the tensors do not match their checksum; the file is damaged")
    return tensors


def _verified_checksum(path: Path, tensors: Mapping[str, torch.Tensor]) -> str:
    """The tensors' checksum, worked out once for the file as it is: hashing reads every page of a 4.8 GB file
    (3 s, and the pages of towers another runtime runs, which would otherwise never be touched)."""
    return remembered(path, "tensors-sha256", lambda: tensors_checksum(tensors))


def metadata_checksum(metadata: Mapping[str, str]) -> str:
    """SHA-256 over every metadata entry but itself (the tensors' checksum among them), in sorted key order."""
    covered = {key: value for key, value in metadata.items() if key != METADATA_CHECKSUM_KEY}
    return hashlib.sha256(json.dumps(covered, sort_keys=True).encode()).hexdigest()


def tensors_checksum(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over each tensor's name, dtype, shape and bytes, in sorted name order.

    Each tensor contributes the length-prefixed JSON ``[name, dtype, shape]`` (dtype as
    safetensors names it, ``"F16"``; torch's name for rarer ones) and then its bytes (little-endian, row-major): what a
    safetensors file stores, so the same checksum can be recomputed from a loaded file.
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        dtype = _SAFETENSORS_DTYPES.get(tensor.dtype, str(tensor.dtype))
        head = json.dumps([name, dtype, list(tensor.shape)]).encode()
        digest.update(len(head).to_bytes(8, "little"))
        digest.update(head)
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


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
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise WeightsError(path, "not a state dict of tensors")
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def check_compatible(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Raise a ``WeightsError`` listing missing/unexpected keys, shape and dtype mismatches, if any."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} (file {list(state[k].shape)}, model {list(expected[k].shape)})"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    wrong_kind = [
        f"{k} (file {state[k].dtype}, model {expected[k].dtype})"
        for k in expected
        if k in state and state[k].is_floating_point() != expected[k].is_floating_point()
    ]
    problems = []
    for label, keys in (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatches", mismatched),
        ("dtype mismatches", wrong_kind),
    ):
        if keys:
            shown = ", ".join(keys[:_MAX_LISTED]) + (
                f" and {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else ""
            )
            problems.append(f"{len(keys)} {label}: {shown}")
    if problems:
        raise WeightsError(path, "does not fit this model config; " + "; ".join(problems))


def check_finite(model: nn.Module, state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Refuse weights holding NaN (or, in a parameter, infinity): every embedding made with them would be NaN.

    Buffers may hold infinity on purpose: the text encoder's causal mask is -inf above the diagonal.
    """
    parameters = {name for name, _ in model.named_parameters()}
    for name, tensor in state.items():
        if tensor.is_floating_point() and _holds_bad_values(tensor, allow_infinity=name not in parameters):
            raise WeightsError(path, f"tensor {name} holds NaN or infinite values; the checkpoint is damaged")


def _holds_bad_values(tensor: torch.Tensor, allow_infinity: bool) -> bool:
    """A finite sum proves every value finite (NaN and infinity poison it) at a twentieth of the cost of
    ``isfinite`` (0.1 s for 300 M floats, against 2-5 s); only a sum that is not finite needs a closer look."""
    if torch.isfinite(torch.sum(tensor, dtype=torch.float32)):
        return False
    bad = torch.isnan(tensor) if allow_infinity else ~torch.isfinite(tensor)
    return bool(bad.any())


def save_safetensors(
    model: nn.Module, path: str | Path, metadata: dict[str, str] | None = None, dtype: torch.dtype | None = None
) -> Path:
    """Write the model's tensors (optionally cast, e.g. to float16 to halve a shipped file) and their checksum."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = value.contiguous()
    metadata = {**(metadata or {}), CHECKSUM_METADATA_KEY: tensors_checksum(tensors)}
    save_file(tensors, str(path), metadata={**metadata, METADATA_CHECKSUM_KEY: metadata_checksum(metadata)})
    return path
