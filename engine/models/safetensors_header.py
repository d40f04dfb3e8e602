"""A safetensors file's header, read by hand: no torch, no tensor loaded, every malformation one ``WeightsError``.

The format is 8 bytes (little-endian length N), then N bytes of JSON: each tensor's ``dtype``,
``shape`` and ``data_offsets``, and an optional ``__metadata__`` object of strings, where
BindScope keeps a checkpoint's config, spec and checksum. The zoo reads a local checkpoint's
config from it when the app starts, and a library fingerprints its model by the checksum, so
this must stay cheap: it reads the header only.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.models.errors import WeightsError

MAX_HEADER_BYTES = 100 * 1024**2  # safetensors' own cap
CHECKSUM_METADATA_KEY = "bindscope.sha256"


def read_header(path: str | Path) -> dict:
    """The parsed header: tensor name -> {dtype, shape, data_offsets}, plus ``__metadata__`` when present."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            length = int.from_bytes(handle.read(8), "little")
            if size < 8 or length > min(MAX_HEADER_BYTES, size - 8):
                raise WeightsError(path, f"not a readable safetensors file (a header of {length:,} bytes in {size:,})")
            raw = handle.read(length)
    except FileNotFoundError:
        raise WeightsError(path, "no such file") from None
    except OSError as error:
        raise WeightsError(path, f"cannot read it ({error.strerror or error})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise WeightsError(path, f"not a readable safetensors file (its header is not JSON: {error})") from None
    except RecursionError:
        raise WeightsError(path, "not a readable safetensors file (its header nests too deeply)") from None
    if not isinstance(header, dict):
        raise WeightsError(path, "not a readable safetensors file (its header is not a JSON object)")
    return header


def read_metadata(path: str | Path) -> dict[str, str]:
    """The header's ``__metadata__`` (string keys and values; empty when there is none)."""
    metadata = read_header(path).get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise WeightsError(path, "not a readable safetensors file (its __metadata__ is not an object of strings)")
    return metadata


def checksum_of(path: str | Path) -> str | None:
    """The tensors' SHA-256 that BindScope wrote into a safetensors file, from its header alone (fast).

    None for other formats and for safetensors written without one; a ``WeightsError`` when
    the file is missing or its header is unreadable. It identifies the weights: two files with
    the same tensors have the same checksum, whatever else their metadata says.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        return None
    return read_metadata(path).get(CHECKSUM_METADATA_KEY)
