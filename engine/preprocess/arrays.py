"""Reading ``.npy`` / ``.npz`` arrays safely (no pickles), shared by the depth and IMU loaders.

Shapes and dtypes are read from the headers first (``array_headers``), so detection never
decompresses an archive and a loader can refuse an array that would not fit its caps before
a byte of it is expanded.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.preprocess.errors import CorruptFile, FileTooLarge, InvalidSignal
from engine.preprocess.files import DEFAULT_LIMITS, Limits, check_file

# What a damaged or foreign file makes NumPy's and zipfile's readers raise.
_NUMPY_FILE_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)


def _read_header(handle) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(handle)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _fortran, dtype = reader(handle)
    return tuple(int(n) for n in shape), dtype


def array_headers(path: str | Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """name -> (shape, dtype) of each array in a ``.npy`` (one, named "") or ``.npz``, from headers only."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        headers = {}
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith(".npy"):
                    with archive.open(name) as member:
                        headers[name[: -len(".npy")]] = _read_header(member)
        return headers
    with path.open("rb") as handle:
        return {"": _read_header(handle)}


def array_shape(path: str | Path) -> tuple[int, ...] | None:
    """The shape of the (first) array, or None when the file is not a readable NumPy file."""
    try:
        headers = array_headers(path)
    except _NUMPY_FILE_ERRORS:
        return None
    return next(iter(headers.values()))[0] if headers else None


@dataclass(frozen=True)
class ArrayCap:
    """A loader's own cap on an array, measured from its header: pixels of a depth map, rows of an IMU recording."""

    unit: str
    limit: int
    measure: Callable[[tuple[int, ...]], int]


def load_array(
    path: str | Path, preferred_keys: tuple[str, ...] = (), limits: Limits = DEFAULT_LIMITS, cap: ArrayCap | None = None
) -> np.ndarray:
    """The array in a ``.npy``, or in a ``.npz`` the first of ``preferred_keys`` present, else its first array."""
    return load_arrays(path, preferred_keys, limits, cap)[0]


def load_arrays(
    path: str | Path,
    keys: tuple[str, ...],
    limits: Limits = DEFAULT_LIMITS,
    cap: ArrayCap | None = None,
    extra_keys: tuple[str, ...] = (),
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(main array, the ``extra_keys`` members present by name), each checked from its header before it is loaded.

    Every member loaded must fit ``limits.max_array_bytes`` and ``cap``, so a small archive
    that would expand to gigabytes is refused without allocating them; object arrays are
    refused, never unpickled.
    """
    path = check_file(path, limits)
    headers = _readable_headers(path)
    if not headers:
        raise InvalidSignal(path, "the .npz archive holds no arrays")
    main = next((k for k in keys if k in headers), next(iter(headers)))
    wanted = [main, *(k for k in extra_keys if k in headers and k != main)]
    for name in wanted:
        _check_fits(path, name, *headers[name], limits, cap)
    arrays = _load_members(path, wanted)
    array = arrays[main]
    if array.size == 0:
        raise InvalidSignal(path, "the array is empty")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise InvalidSignal(path, f"expected real numbers, got dtype {array.dtype}")
    return array, {k: arrays[k] for k in extra_keys if k in arrays}


def _readable_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    try:
        return array_headers(path)
    except _NUMPY_FILE_ERRORS as error:
        raise CorruptFile(path, f"not a valid NumPy file ({error})") from None


def _check_fits(
    path: Path, name: str, shape: tuple[int, ...], dtype: np.dtype, limits: Limits, cap: ArrayCap | None
) -> None:
    label = f"array {name!r}: " if name else ""
    if dtype.hasobject:
        raise InvalidSignal(path, f"{label}the array holds Python objects; only numeric arrays are read")
    if cap is not None and cap.measure(shape) > cap.limit:
        raise FileTooLarge(
            path, f"{label}{cap.measure(shape):,} {cap.unit}s is over the {cap.limit:,}-{cap.unit} limit"
        )
    expanded = math.prod(shape) * dtype.itemsize
    if expanded > limits.max_array_bytes:
        raise FileTooLarge(
            path,
            f"{label}{list(shape)} of {dtype} would expand to {expanded:,} bytes, "
            f"over the {limits.max_array_bytes:,}-byte limit",
        )


def _load_members(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    try:
        if path.suffix.lower() != ".npz":
            return {"": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in names}
    except _NUMPY_FILE_ERRORS as error:
        raise CorruptFile(path, f"not a valid NumPy file ({error})") from None
