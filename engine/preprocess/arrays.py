"""Reading ``.npy`` / ``.npz`` arrays safely (no pickles), shared by the depth and IMU loaders.

Shapes and dtypes are read from the headers first (``array_headers``), so detection never
decompresses an archive and a loader can refuse an array that would not fit its caps before
a byte of it is expanded.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from engine.preprocess.errors import CorruptFile, InvalidSignal
from engine.preprocess.files import DEFAULT_LIMITS, Limits, check_file


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
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    return next(iter(headers.values()))[0] if headers else None


def load_array(path: str | Path, preferred_keys: tuple[str, ...] = (), limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """The array in a ``.npy``, or in a ``.npz`` the first of ``preferred_keys`` present, else its first array."""
    return load_arrays(path, preferred_keys, limits)[0]


def load_arrays(
    path: str | Path, keys: tuple[str, ...], limits: Limits = DEFAULT_LIMITS
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(main array, every array of the archive by name); object arrays are refused, never unpickled."""
    path = check_file(path, limits)
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                everything = {name: archive[name] for name in archive.files}
            if not everything:
                raise InvalidSignal(path, "the .npz archive holds no arrays")
            main = next((everything[k] for k in keys if k in everything), next(iter(everything.values())))
        else:
            main = np.load(path, allow_pickle=False)
            everything = {}
    except InvalidSignal:
        raise
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise InvalidSignal(path, "the array holds Python objects; only numeric arrays are read") from None
        raise CorruptFile(path, f"not a valid NumPy file ({error})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise CorruptFile(path, f"not a valid NumPy file ({error})") from None
    if not isinstance(main, np.ndarray) or main.size == 0:
        raise InvalidSignal(path, "the array is empty")
    if not np.issubdtype(main.dtype, np.number) or np.issubdtype(main.dtype, np.complexfloating):
        raise InvalidSignal(path, f"expected real numbers, got dtype {main.dtype}")
    return main, everything
