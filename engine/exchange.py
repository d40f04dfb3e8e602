"""The interchange format of libraries and clusters: Parquet (and NPZ for notebooks) export, Parquet import.

One schema serves ``bindscope export``, ``bindscope import`` and the cluster's shards: a row per
file (or text) with ``modality``, ``path`` or ``text``, ``embedding`` (a fixed-size list of
float32, null for a failure), ``scale``, and ``hash``, ``size``, ``mtime``, ``error_kind``,
``error``; the model in the schema metadata (``bindscope.model`` its name, with its fingerprint,
title and dimension beside it), so a file embedded by another model is refused whole.

Both directions stream: export writes row groups as it reads the vector files, import reads
row groups as it writes the library, so a 4 GB file never sits in memory. Each imported file
is one transaction: a file damaged halfway through leaves the library as it was. Importing the
same file twice adds nothing. Paths need not exist on this machine: items keep them (offline)
until their folder is mounted.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.library import EMBEDDED, FAILED, Library, Record, display, hash_file, hash_text
from engine.modality import Modality
from engine.models.identity import UNVERIFIED, ModelRef
from engine.progress import Progress

MODEL_NAME = "bindscope.model"
MODEL_FINGERPRINT = "bindscope.model_fingerprint"
MODEL_TITLE = "bindscope.model_title"
MODEL_DIM = "bindscope.dim"
ROW_GROUP = 65_536
PARTIAL_SUFFIX = ".partial"  # a shard still being written (cluster.py renames it when complete)


class ExchangeError(Exception):
    """A file that cannot be imported or exported; the message names it and the reason."""


@dataclass
class ImportReport:
    files: int = 0
    rows: int = 0
    changed: int = 0  # items added or updated
    failures: int = 0  # rows recording a failure elsewhere
    invalid: list[str] = field(default_factory=list)  # rows refused (no path, a vector that is not finite...)
    model: str | None = None


def schema(dim: int):
    import pyarrow as pa

    return pa.schema(
        [
            ("modality", pa.string()),
            ("path", pa.string()),
            ("text", pa.string()),
            ("embedding", pa.list_(pa.float32(), dim)),
            ("scale", pa.float32()),
            ("hash", pa.string()),
            ("size", pa.int64()),
            ("mtime", pa.float64()),
            ("error_kind", pa.string()),
            ("error", pa.string()),
        ]
    )


def metadata(ref: ModelRef) -> dict[str, str]:
    return {MODEL_NAME: ref.name, MODEL_FINGERPRINT: ref.fingerprint, MODEL_TITLE: ref.title, MODEL_DIM: str(ref.dim)}


def table(columns: dict[str, list], embeddings: np.ndarray, ref: ModelRef):
    """A table in the interchange schema: ``columns`` by name, and embeddings whose NaN rows are written as null."""
    import pyarrow as pa

    target = schema(ref.dim)
    missing = np.isnan(embeddings).any(axis=1)
    flat = pa.array(np.ascontiguousarray(embeddings, np.float32).reshape(-1), pa.float32())
    arrays = [
        pa.FixedSizeListArray.from_arrays(flat, ref.dim, mask=pa.array(missing))
        if name == "embedding"
        else pa.array(columns.get(name, [None] * len(embeddings)), type=target.field(name).type)
        for name in target.names
    ]
    return pa.Table.from_arrays(arrays, schema=target.with_metadata(metadata(ref)))


def writer(path: Path, ref: ModelRef):
    """A Parquet writer in the interchange schema, with CRC checksums on every page (import verifies them:
    bytes damaged inside a page would otherwise decode as plausible numbers)."""
    import pyarrow.parquet as pq

    return pq.ParquetWriter(path, schema(ref.dim).with_metadata(metadata(ref)), write_page_checksum=True)


def write(path: Path, columns: dict[str, list], embeddings: np.ndarray, ref: ModelRef, row_group: int = ROW_GROUP):
    with writer(path, ref) as out:
        out.write_table(table(columns, embeddings, ref), row_group_size=row_group)
    return path


# -- export ----------------------------------------------------------------------------------


def _export_batches(library: Library, ref: ModelRef) -> Iterator[tuple[dict[str, list], np.ndarray]]:
    """The embedded and the failed items, a row group at a time: columns, and embeddings (NaN rows for failures)."""
    key = library.key_of(ref)
    ids, modalities, rows, scales = library.embedded_rows(key)
    store, committed = library.store(key), library.store_rows(key)
    for start in range(0, len(ids), ROW_GROUP):
        part = slice(start, start + ROW_GROUP)
        items = library.items(ids=ids[part].tolist())
        vectors = np.empty((len(items), ref.dim), np.float32)
        for name in np.unique(modalities[part]):
            modality, mask = Modality(str(name)), modalities[part] == name
            vectors[mask] = store.gather(modality, committed[modality], rows[part][mask])
        yield _columns(items, scales[part].tolist()), vectors
    for start in range(0, library.count(FAILED), ROW_GROUP):
        failed = library.items(status=FAILED, offset=start, limit=ROW_GROUP)
        yield _columns(failed, [None] * len(failed)), np.full((len(failed), ref.dim), np.nan, np.float32)


def _columns(items, scales) -> dict[str, list]:
    return {
        "modality": [i.modality.value for i in items],
        "path": [display(i.path) if i.path is not None else None for i in items],
        "text": [i.text for i in items],
        "scale": list(scales),
        "hash": [i.hash for i in items],
        "size": [i.size for i in items],
        "mtime": [i.mtime for i in items],
        "error_kind": [i.error_kind if i.status != EMBEDDED else None for i in items],
        "error": [i.error if i.status != EMBEDDED else None for i in items],
    }


def export(library: Library, out: str | Path, progress: Progress | None = None) -> int:
    """Write the library's embeddings (and its failures) to ``out`` (.parquet, or .npz for notebooks); returns rows."""
    ref = library.model
    if ref is None:
        raise ExchangeError(f"{library.folder}: nothing is embedded yet")
    out = Path(out)
    if not out.parent.is_dir():
        raise ExchangeError(f"{out.parent}: no such folder")
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".npz"):
        raise ExchangeError(f"{out}: export as .parquet or .npz")
    partial = out.with_name(out.name + PARTIAL_SUFFIX)
    try:
        count = (_write_parquet if suffix == ".parquet" else _write_npz)(library, ref, partial, progress)
        os.replace(partial, out)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ExchangeError(f"{out}: cannot write it ({error.strerror or error})") from None
    return count


def _write_parquet(library: Library, ref: ModelRef, out: Path, progress: Progress | None) -> int:
    count = 0
    with writer(out, ref) as parquet:
        for columns, vectors in _export_batches(library, ref):
            parquet.write_table(table(columns, vectors, ref))
            count += len(vectors)
            if progress:
                progress("export", count, 0)
    return count


def _write_npz(library: Library, ref: ModelRef, out: Path, progress: Progress | None) -> int:
    parts = list(_export_batches(library, ref))
    columns = {name: [v for p in parts for v in p[0][name]] for name in ("modality", "path", "text", "scale")}
    vectors = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, ref.dim), np.float32)
    with out.open("wb") as handle:
        np.savez(
            handle,
            modalities=np.array(columns["modality"], dtype=str),
            paths=np.array([p or "" for p in columns["path"]], dtype=str),
            texts=np.array([t or "" for t in columns["text"]], dtype=str),
            embeddings=vectors,
            scales=np.array([np.nan if s is None else s for s in columns["scale"]], np.float32),
            model=np.array(ref.name),
        )
    return len(vectors)


# -- import ----------------------------------------------------------------------------------


def parquet_files(source: str | Path) -> list[Path]:
    """A Parquet file, or the complete Parquet files of a folder (shards still being written are left out)."""
    source = Path(source)
    if source.is_dir():
        return sorted(p for p in source.glob("*.parquet") if p.is_file())
    if not source.is_file():
        raise ExchangeError(f"{source}: no such file or folder")
    return [source]


def file_model(path: Path, parquet) -> ModelRef:
    """The model a Parquet file was embedded with, from its metadata."""
    meta = {
        k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
        for k, v in (parquet.schema_arrow.metadata or {}).items()
    }
    if MODEL_NAME not in meta:
        raise ExchangeError(f"{path}: no {MODEL_NAME} in the file's metadata; it was not written by BindScope")
    embedding = parquet.schema_arrow.field("embedding").type if "embedding" in parquet.schema_arrow.names else None
    dim = getattr(embedding, "list_size", None)
    if not dim or dim <= 0:
        raise ExchangeError(f"{path}: the embedding column must be a fixed-size list of floats")
    name = meta[MODEL_NAME]
    fingerprint = meta.get(MODEL_FINGERPRINT) or UNVERIFIED + hashlib.blake2b(name.encode(), digest_size=8).hexdigest()
    return ModelRef(name, fingerprint, meta.get(MODEL_TITLE, name), int(dim))


def _check_model(path: Path, found: ModelRef, library: Library) -> None:
    wanted = library.model
    if wanted is None:
        return
    same = found.fingerprint == wanted.fingerprint or (
        not (found.verified and wanted.verified) and found.name == wanted.name
    )
    if not same or found.dim != wanted.dim:
        raise ExchangeError(
            f"{path}: embedded with {found.title} ({found.name}, {found.dim} dimensions, fingerprint "
            f"{found.fingerprint[:12]}); this library's model is {wanted.title} ({wanted.name}, {wanted.dim} "
            f"dimensions, fingerprint {wanted.fingerprint[:12]}). Nothing was imported."
        )


def import_file(
    library: Library,
    path: Path,
    report: ImportReport,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> None:
    """Import one Parquet file in one transaction, streaming its row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path, page_checksum_verification=True)
    except (pa.ArrowException, OSError) as error:
        raise ExchangeError(f"{path}: not a readable Parquet file ({error})") from None
    ref = file_model(path, parquet)
    _check_model(path, ref, library)
    missing = {"modality", "embedding", "scale"} - set(parquet.schema_arrow.names)
    if missing or not {"path", "text"} & set(parquet.schema_arrow.names):
        raise ExchangeError(f"{path}: missing columns ({', '.join(sorted(missing) or ['path or text'])})")
    roots = sorted(((r.path.rstrip(os.sep) + os.sep, r.id) for r in library.roots()), reverse=True)
    places = _Places(roots)
    try:
        batches = (
            (batch.num_rows, _rows(batch, ref.dim, places, report))
            for batch in parquet.iter_batches(batch_size=ROW_GROUP)
        )
        with library.bulk(ref) as bulk:
            for count, (records, vectors, scales, failures) in _ahead(batches):
                if cancelled():
                    raise _Cancelled
                bulk.add(records, vectors, scales, failures)
                report.rows += count
                report.failures += len(failures)
                if progress:
                    progress("import", report.rows, 0)
            report.changed += bulk.changed
    except (pa.ArrowException, OSError) as error:
        raise ExchangeError(
            f"{path}: damaged after {report.rows:,} rows ({error}); nothing of it was imported"
        ) from None
    report.files += 1
    report.model = ref.name


def _ahead(items: Iterator):
    """Yield ``items``, computing the next one on another thread meanwhile: decoding a row group (Arrow,
    NumPy) and storing the previous one (SQLite, the vector file) both release the GIL, so on two cores an
    import takes about the longer of the two instead of their sum."""
    from concurrent.futures import ThreadPoolExecutor

    done = object()
    with ThreadPoolExecutor(1, thread_name_prefix="import-decode") as pool:
        upcoming = pool.submit(next, items, done)
        while True:
            item = upcoming.result()
            if item is done:
                return
            upcoming = pool.submit(next, items, done)
            yield item


class _Cancelled(Exception):
    """Raised inside the import transaction so it rolls back."""


def import_embeddings(
    library: Library,
    source: str | Path,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    after_file: Callable[[], None] = lambda: None,
) -> ImportReport:
    """Import a Parquet file or a folder of them; ``after_file`` runs after each (keeping the index current)."""
    report = ImportReport()
    for path in parquet_files(source):
        try:
            import_file(library, path, report, progress, cancelled)
        except _Cancelled:
            break
        after_file()
    return report


class _Places:
    """Paths as the scanner stores them (the folder resolved, the name kept) and their roots, with each folder
    resolved once: resolving every path of a million-row import cost more than the rest of the import."""

    def __init__(self, roots: list[tuple[str, int]]):
        self.roots = roots
        self._folders: dict[str, str] = {}
        self._modalities: dict[str, Modality] = {}

    def path(self, path: str) -> str:
        folder, name = os.path.split(os.path.abspath(path))
        real = self._folders.get(folder)
        if real is None:
            real = self._folders[folder] = os.path.realpath(folder)
        return os.path.join(real, name)

    def root_of(self, path: str) -> int | None:
        return next((rid for prefix, rid in self.roots if path.startswith(prefix)), None)

    def modality(self, name: str) -> Modality:
        modality = self._modalities.get(name)
        if modality is None:
            modality = self._modalities[name] = Modality.parse(name)
        return modality


def _rows(batch, dim: int, places: _Places, report: ImportReport):
    """A record batch -> (records, their unit vectors, scales, failures); bad rows are noted in the report."""
    count = batch.num_rows
    column = {name: batch.column(name).to_pylist() for name in batch.schema.names if name != "embedding"}
    none = [None] * count
    embedding = batch.column("embedding")
    present = ~np.asarray(embedding.is_null().to_numpy(zero_copy_only=False), bool)
    flat = np.asarray(embedding.flatten().to_numpy(zero_copy_only=False), np.float32).reshape(-1, dim)
    if present.all():
        vectors = flat
    else:
        vectors = np.zeros((count, dim), np.float32)
        vectors[present] = flat
    usable = present & np.isfinite(vectors).all(axis=1)
    if not usable.all():
        vectors = np.where(usable[:, None], vectors, np.float32(0))
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))
    scale_of = column["scale"]
    kinds, errors = column.get("error_kind", none), column.get("error", none)
    records, kept, failures = [], [], []
    for n in range(count):
        record = _record(column, n, places, report)
        if record is None:
            continue
        if kinds[n] is not None:
            failures.append((record, str(kinds[n]), str(errors[n] or "")))
            continue
        scale = scale_of[n]
        if not (norms[n] > 0 and scale is not None and math.isfinite(scale)):
            report.invalid.append(f"{_name(record)}: no finite embedding and scale, and no error")
            continue
        records.append(record)
        kept.append(n)
    norms = norms[kept]
    scaled = np.abs(norms - 1.0) >= 1e-4  # unit vectors are kept bit for bit
    matrix = vectors if len(kept) == count and not scaled.any() else vectors[kept]
    if scaled.any():
        matrix[scaled] /= norms[scaled, None].astype(np.float32)
    scales = np.asarray([scale_of[n] for n in kept], np.float32)
    return records, matrix, scales, failures


def _name(record: Record) -> str:
    return display(record.path) if record.path else repr(record.text)


def _record(column: dict[str, list], n: int, places: _Places, report: ImportReport) -> Record | None:
    """Row ``n`` as a record, or None (noted as invalid)."""

    def value(name: str):
        values = column.get(name)
        return None if values is None else values[n]

    path, text = value("path"), value("text")
    try:
        modality = places.modality(column["modality"][n] or "")
    except ValueError:
        report.invalid.append(f"row {report.rows + n + 1}: unknown modality {column['modality'][n]!r}")
        return None
    size = int(value("size") or 0)
    mtime = float(value("mtime") or 0.0)
    content_hash = value("hash")
    if path:
        path = places.path(path)
        return Record(places.root_of(path), path, None, modality, size, mtime, content_hash or _hash_of(path))
    if text:
        text = display(text).strip()
        return Record(None, None, text, Modality.TEXT, 0, 0.0, hash_text(text))
    report.invalid.append(f"row {report.rows + n + 1}: neither a path nor a text")
    return None


def _hash_of(path: str) -> str:
    """A reachable file's content hash; for one that is not, a stable stand-in made of its path."""
    try:
        return hash_file(path)
    except OSError:
        return "path:" + hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
