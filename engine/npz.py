"""An ``.npz`` written a batch at a time, in bounded memory: ``np.savez`` needs every array whole at once
(2.1 GB for a million rows). Each column's batches are spilled to a temporary file beside the output as they
come, then copied into the archive as one ``.npy`` member; text columns become fixed-width arrays, as
``np.savez`` makes them, a slice at a time once their widest value is known."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

COPY_BYTES = 16 << 20  # what is held at once while a spilled column is copied into the archive


class _Column:
    """One array's rows so far: raw bytes for numbers; for text, each value's length and its encoded bytes."""

    def __init__(self, folder: Path, name: str, kind):
        self.kind = kind  # a numeric dtype, or str, or bytes
        self.data = (folder / f"{name}.data").open("w+b")
        self.lengths = (folder / f"{name}.lengths").open("w+b") if kind in (str, bytes) else None
        self.rows, self.width = 0, 0

    def append(self, values) -> None:
        if self.lengths is None:
            self.data.write(np.ascontiguousarray(values, dtype=self.kind).tobytes())
        else:
            encoded = [v.encode("utf-8", "surrogatepass") if self.kind is str else bytes(v) for v in values]
            self.data.write(b"".join(encoded))
            self.lengths.write(np.array([len(e) for e in encoded], np.int64).tobytes())
            widths = [len(v) for v in values]
            self.width = max([self.width, *widths])
        self.rows += len(values)

    def dtype(self) -> np.dtype:
        if self.lengths is None:
            return np.dtype(self.kind)
        return np.dtype(f"<U{max(1, self.width)}" if self.kind is str else f"S{max(1, self.width)}")

    def copy_to(self, member) -> None:
        self.data.seek(0)
        if self.lengths is None:
            shutil.copyfileobj(self.data, member, COPY_BYTES)
            return
        self.lengths.seek(0)
        dtype = self.dtype()
        step = max(1, COPY_BYTES // dtype.itemsize)
        for start in range(0, self.rows, step):
            lengths = np.frombuffer(self.lengths.read(8 * min(step, self.rows - start)), np.int64)
            raw = self.data.read(int(lengths.sum()))
            ends = np.cumsum(lengths)
            parts = [raw[end - size : end] for end, size in zip(ends.tolist(), lengths.tolist(), strict=True)]
            if self.kind is str:
                parts = [p.decode("utf-8", "surrogatepass") for p in parts]
            member.write(np.array(parts, dtype).tobytes())

    def close(self) -> None:
        self.data.close()
        if self.lengths is not None:
            self.lengths.close()


class NpzWriter:
    """``columns`` names each array and its kind (a numeric dtype, ``str`` or ``bytes``) with the shape of one
    row (``()`` for one value a row); ``append`` adds rows to them, ``close`` writes the archive, uncompressed,
    like ``np.savez``, with ``constants`` (small arrays written whole) after them."""

    def __init__(self, out: Path, columns: dict[str, tuple[object, tuple[int, ...]]]):
        self.out = Path(out)
        self.spill = tempfile.TemporaryDirectory(prefix=".npz-", dir=self.out.parent)
        self.tails = {name: tail for name, (_, tail) in columns.items()}
        self.columns = {name: _Column(Path(self.spill.name), name, kind) for name, (kind, _) in columns.items()}

    def append(self, **values) -> None:
        for name, rows in values.items():
            self.columns[name].append(rows)

    def close(self, **constants: np.ndarray) -> None:
        try:
            with zipfile.ZipFile(self.out, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                for name, column in self.columns.items():
                    header = {
                        "descr": np.lib.format.dtype_to_descr(column.dtype()),
                        "fortran_order": False,
                        "shape": (column.rows, *self.tails[name]),
                    }
                    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array_header_1_0(member, header)
                        column.copy_to(member)
                for name, array in constants.items():
                    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
        finally:
            self.discard()

    def discard(self) -> None:
        for column in self.columns.values():
            column.close()
        self.spill.cleanup()
