"""What the desktop bundle leaves out, for ``bindscope.spec``.

PyPI has only the CUDA build of PyTorch 2.11 for Linux, and its ``libtorch.so`` and ``libtorch_python.so`` link
``libtorch_cuda.so``, which links a dozen CUDA libraries: those are loaded when ``torch`` is imported, CPU or not,
so they stay. What is loaded only on demand goes: the other CUDA libraries (cuDNN's engines, cuSOLVER, NVRTC,
the profiler's), Triton (``torch.compile``), Ray and pandas (the cluster backend: ``bindscope index --ray`` says
to install ``bindscope[cluster]``), the test tools, and the build host's C++ runtime and expat, which need a newer
glibc than the systems the bundle is for (every desktop has its own).
"""

from __future__ import annotations

import sys
from pathlib import PurePath

LEFT_OUT_MODULES = [
    "ray",
    "pandas",
    "polars",  # optional readers of pyarrow and friends; the app writes and reads Parquet with pyarrow
    "duckdb",
    "triton",
    "pytest",
    "_pytest",
    "pytestqt",
    "hypothesis",
    "importlinter",
    "grimp",
    "build",
    "PyInstaller",
    "matplotlib",
    "tkinter",
    "IPython",
    "torch.utils.tensorboard",
]
LAZY_TORCH_LIBRARIES = {"libtorch_cuda_linalg.so", "libcaffe2_nvrtc.so"}  # dlopened by torch when first needed
# The system's own: the C++ runtime and expat (the host's need a newer glibc) and libmvec (a part of glibc itself).
HOST_LIBRARIES = {"libstdc++.so.6", "libgcc_s.so.1", "libexpat.so.1", "libmvec.so.1"}


def lean_binaries(binaries: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Linux: the binaries without the lazily loaded torch and CUDA libraries and without the host runtime."""
    if not sys.platform.startswith("linux"):
        return list(binaries)
    from PyInstaller.depend.bindepend import get_imports

    def name(entry) -> str:
        return PurePath(entry[0]).name

    def cuda(entry) -> bool:
        parts = PurePath(entry[0]).parts
        return "nvidia" in parts or "triton" in parts

    kept = [b for b in binaries if not cuda(b) and name(b) not in LAZY_TORCH_LIBRARIES | HOST_LIBRARIES]
    candidates = [b for b in binaries if cuda(b)]
    needed: set[str] = set()
    frontier = kept
    while frontier:
        for entry in frontier:
            needed.update(PurePath(imported).name for imported, _ in get_imports(entry[1]))
        frontier = [b for b in candidates if name(b) in needed and b not in kept]
        kept += frontier
    return kept
