"""Each model's vectors: append-only float32 matrices, memory-mapped, one file per (model, modality).

A row is written once and never changed, so readers in any process can map a file while a
writer appends to it. The library (SQLite) is the source of truth for how many rows are
committed: a writer appends at the committed count, inside the library's write transaction,
and fsyncs before the rows that point at the vectors are committed; bytes past the committed
count (a process killed between the fsync and the commit, or a torn write) are overwritten
by the next append and cut on the writer's next open. One file per modality lets exact search
run over a modality's rows directly from the map, without gathering or copying them.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np

from engine.modality import Modality

FOLDER = "vectors"
ROW_DTYPE = np.dtype("<f4")
_READERS = 16  # reads in flight when re-ranking: a disk serves many at once, a page fault one at a time


class VectorStoreError(Exception):
    """A vector file that is shorter than the library says (damaged or replaced), or cannot be written."""


class VectorStore:
    """The vector files of one model in one library folder."""

    def __init__(self, library_folder: Path, model_key: str, dim: int):
        self.folder = Path(library_folder) / FOLDER
        self.model_key = model_key
        self.dim = dim
        self._maps: dict[Modality, np.memmap] = {}

    def path(self, modality: Modality) -> Path:
        return self.folder / f"{self.model_key}-{Modality(modality).value}.f32"

    @property
    def row_bytes(self) -> int:
        return self.dim * ROW_DTYPE.itemsize

    def view(self, modality: Modality, rows: int) -> np.ndarray:
        """The first ``rows`` committed vectors of a modality, mapped read-only ([rows, dim] float32)."""
        modality = Modality(modality)
        if rows == 0:
            return np.zeros((0, self.dim), ROW_DTYPE)
        mapped = self._maps.get(modality)
        if mapped is None or len(mapped) < rows:
            path = self.path(modality)
            try:
                size = path.stat().st_size
            except OSError as error:
                raise VectorStoreError(f"{path}: the library's vectors are missing ({error.strerror})") from None
            if size < rows * self.row_bytes:
                raise VectorStoreError(
                    f"{path}: holds {size // self.row_bytes:,} vectors but the library has {rows:,}; "
                    "the file was damaged or replaced"
                )
            mapped = np.memmap(path, ROW_DTYPE, mode="r", shape=(size // self.row_bytes, self.dim))
            self._maps[modality] = mapped
        return mapped[:rows]

    def append(self, modality: Modality, start: int, vectors: np.ndarray) -> None:
        """Write ``vectors`` as rows ``start, start + 1, ...``, cut anything after them and make it durable.

        Called inside the library's write transaction, with ``start`` the committed row count.
        """
        vectors = np.ascontiguousarray(vectors, ROW_DTYPE)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected [n, {self.dim}] vectors, got {list(vectors.shape)}")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(modality)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            offset = start * self.row_bytes
            data = memoryview(vectors).cast("B")
            written = 0
            while written < len(data):
                written += os.pwrite(descriptor, data[written:], offset + written)
            os.ftruncate(descriptor, offset + len(data))
            os.fsync(descriptor)
        except OSError as error:
            raise VectorStoreError(f"{path}: cannot write vectors ({error.strerror})") from None
        finally:
            os.close(descriptor)

    def cut(self, modality: Modality, rows: int) -> None:
        """Drop bytes past the committed ``rows`` (a torn tail); the writer calls this under its lock."""
        path = self.path(modality)
        try:
            if path.stat().st_size > rows * self.row_bytes:
                os.truncate(path, rows * self.row_bytes)
                self._maps.pop(Modality(modality), None)
        except FileNotFoundError:
            pass

    def gather(self, modality: Modality, rows: int, picks: np.ndarray) -> np.ndarray:
        """Copies of the given rows (of the first ``rows`` committed), in the order asked. One run of rows is
        copied from the map; scattered rows are read by concurrent ``pread``s: through the map they fault in
        one at a time, which from a cold disk cost re-ranking 0.2-0.6 s a query at a million vectors and
        0.3 s at ten million (a file larger than memory). The GIL is released while each read waits."""
        picks = np.asarray(picks, np.int64)
        out = np.empty((len(picks), self.dim), ROW_DTYPE)
        if not len(picks):
            return out
        if picks.min() < 0 or picks.max() >= rows:
            raise IndexError(f"rows {picks.min()}..{picks.max()} outside the {rows:,} committed")
        if picks[-1] - picks[0] + 1 == len(picks) and (np.diff(picks) == 1).all():
            out[:] = self.view(modality, rows)[picks[0] : picks[-1] + 1]
            return out
        path, size = self.path(modality), self.row_bytes
        descriptor = os.open(path, os.O_RDONLY)
        try:

            def read(part: np.ndarray) -> None:
                for n in part.tolist():
                    if os.preadv(descriptor, [memoryview(out[n]).cast("B")], int(picks[n]) * size) != size:
                        raise VectorStoreError(f"{path}: shorter than the library says (damaged or replaced)")

            list(_readers().map(read, np.array_split(np.arange(len(picks)), min(_READERS, len(picks)))))
        finally:
            os.close(descriptor)
        return out


@cache
def _readers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_READERS, thread_name_prefix="vector-read")
