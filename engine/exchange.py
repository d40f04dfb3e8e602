"""The interchange format of libraries and clusters: Parquet (and NPZ for notebooks) export, Parquet import.

One schema serves ``bindscope export``, ``bindscope import`` and the cluster's shards: a row per
file (or text) with its library ``id``, ``modality``, ``path`` (readable) and ``path_bytes`` (the
exact bytes, when they are not UTF-8) or ``text``, ``embedding`` (a fixed-size list of float32, null
for a failure), ``scale``, and ``hash``, ``size``, ``mtime``, ``error_kind``, ``error``; the model in
the schema metadata (its name, never a local path, its fingerprint, title and dimension) and the
hash algorithm beside it, so a file embedded by another model is refused whole. A moment (a window
of a long recording) is a row of its file with ``start`` and ``end`` in seconds (null on the file's
own row): the file's path, hash and modality say whose window it is, and its row comes after the
file's (an import refuses a window whose file it does not hold). NPZ carries the files only.

Both directions stream in batches of bounded bytes: export writes row groups as it reads the vector
files, import reads batches as it writes the library, so a 4 GB file never sits in memory. Each
imported file is one transaction: a file damaged halfway through leaves the library as it was.
Importing the same file twice adds nothing. Paths need not exist on this machine, and are never
read: an imported row's identity is its claimed hash kept apart from the hashes this library
computes (``engine.library.IMPORTED``), so an imported vector is never taken for a local file's.
Only the cluster's own shards, for files this library hashed, are imported as trusted.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from engine.library import EMBEDDED, FAILED, IMPORTED, Item, Library, Record, display, hash_text, imported
from engine.library.schema import MAX_DIM
from engine.modality import Modality
from engine.models.identity import UNVERIFIED, ModelRef
from engine.npz import NpzWriter
from engine.preprocess.errors import PreprocessError
from engine.preprocess.files import DEFAULT_LIMITS, check_file
from engine.progress import Progress

MODEL_NAME = "bindscope.model"
MODEL_FINGERPRINT = "bindscope.model_fingerprint"
MODEL_TITLE = "bindscope.model_title"
MODEL_DIM = "bindscope.dim"
HASH = "bindscope.hash"
HASH_ALGORITHM = (
    "blake2b-128: a file's hash is the hex BLAKE2b digest (16 bytes) of its bytes, a text's is 'text:' and that of "
    "its UTF-8; rows of one hash and modality are one content at several paths and share one vector"
)
ROW_GROUP = 65_536  # the most rows in one batch, whatever their width
MAX_PARQUET_BYTES = 1 << 50  # no cap of its own: import streams a file of any size
BATCH_BYTES = 64 * 1024**2  # the most vector bytes in one batch: wide rows make short batches
MAX_SCALE = 100.0  # the models' logit scale is clipped at 100 (engine.models.heads)
MAX_NAME = 255
MAX_TITLE = 200
MAX_HASH = 128
MAX_ERROR = 2_000
PARTIAL_SUFFIX = ".partial"  # a shard still being written (cluster.py renames it when complete)


class ExchangeError(Exception):
    """A file that cannot be imported or exported; the message names it and the reason."""


@dataclass
class ImportReport:
    files: int = 0
    rows: int = 0
    changed: int = 0  # items added or updated
    segments: int = 0  # moments added (windows of long recordings)
    failures: int = 0  # rows recording a failure elsewhere
    invalid: list[str] = field(default_factory=list)  # rows refused: "file: row N: column 'c': why"
    refused: list[str] = field(default_factory=list)  # files of a folder refused whole, with why
    model: str | None = None


def rows_per_batch(dim: int) -> int:
    return max(1, min(ROW_GROUP, BATCH_BYTES // (4 * dim)))


def schema(dim: int):
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.int64()),
            ("modality", pa.string()),
            ("path", pa.string()),
            ("path_bytes", pa.binary()),
            ("text", pa.string()),
            ("embedding", pa.list_(pa.float32(), dim)),
            ("scale", pa.float32()),
            ("hash", pa.string()),
            ("size", pa.int64()),
            ("mtime", pa.float64()),
            ("error_kind", pa.string()),
            ("error", pa.string()),
            ("start", pa.float64()),
            ("end", pa.float64()),
        ]
    )


def exported_name(ref: ModelRef) -> str:
    """The model's name as a file carries it: a zoo name, or a checkpoint's file name (never its local path)."""
    return os.path.basename(ref.name.rstrip("/\\")) or ref.name


def metadata(ref: ModelRef) -> dict[str, str]:
    return {
        MODEL_NAME: exported_name(ref),
        MODEL_FINGERPRINT: ref.fingerprint,
        MODEL_TITLE: ref.title,
        MODEL_DIM: str(ref.dim),
        HASH: HASH_ALGORITHM,
    }


def _utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def table(columns: dict[str, list], embeddings: np.ndarray, ref: ModelRef):
    """A table in the interchange schema: ``columns`` by name (``path`` as Python keeps it: a name that is not
    UTF-8 becomes its readable form plus its exact ``path_bytes``), and embeddings whose NaN rows are null."""
    import pyarrow as pa

    target = schema(ref.dim)
    columns = dict(columns)
    if "path" in columns:
        paths = columns["path"]
        columns["path"] = [None if p is None else display(p) for p in paths]
        columns["path_bytes"] = [None if p is None or _utf8(p) else os.fsencode(p) for p in paths]
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


def _export_batches(
    library: Library, ref: ModelRef, include_failures: bool, segments: bool = True
) -> Iterator[tuple[dict[str, list], np.ndarray]]:
    """The embedded items, then their moments (unless ``segments`` is False), then the failed items if asked, a
    batch at a time: columns, and embeddings (NaN rows for failures)."""
    key = library.key_of(ref)
    ids, modalities, rows, scales = library.embedded_rows(key)
    store, committed = library.store(key), library.store_rows(key)
    step = rows_per_batch(ref.dim)
    for start in range(0, len(ids), step):
        part = slice(start, start + step)
        items = library.items(ids=ids[part].tolist())
        vectors = np.empty((len(items), ref.dim), np.float32)
        for name in np.unique(modalities[part]):
            modality, mask = Modality(str(name)), modalities[part] == name
            vectors[mask] = store.gather(modality, committed[modality], rows[part][mask])
        yield _columns(items, scales[part].tolist()), vectors
    if segments:
        yield from _segment_batches(library, key, step)
    if include_failures:
        for start in range(0, library.count(FAILED), step):
            failed = library.items(status=FAILED, offset=start, limit=step)
            yield _columns(failed, [None] * len(failed)), np.full((len(failed), ref.dim), np.nan, np.float32)


def _segment_batches(library: Library, key: str, step: int) -> Iterator[tuple[dict[str, list], np.ndarray]]:
    """Each held moment as a row of the first item holding its content, with its span."""
    store, committed = library.segment_store(key), library.segment_rows(key)
    for modality in committed:
        ids, rows, scales, starts, ends = library.segment_export_rows(key, modality)
        for first in range(0, len(ids), step):
            part = slice(first, first + step)
            found = {i.id: i for i in library.items(ids=np.unique(ids[part]).tolist())}
            columns = _columns([found[i] for i in ids[part].tolist()], scales[part].tolist())
            columns["start"], columns["end"] = starts[part].tolist(), ends[part].tolist()
            yield columns, store.gather(modality, committed[modality], rows[part])


def _columns(items: list[Item], scales) -> dict[str, list]:
    return {
        "id": [i.id for i in items],
        "modality": [i.modality.value for i in items],
        "path": [i.path for i in items],
        "text": [i.text if i.text is not None else _embedded_text(i) for i in items],
        "scale": list(scales),
        "hash": [i.hash[len(IMPORTED) :] if imported(i.hash) else i.hash for i in items],
        "size": [i.size for i in items],
        "mtime": [i.mtime for i in items],
        "error_kind": [i.error_kind if i.status != EMBEDDED else None for i in items],
        "error": [i.error if i.status != EMBEDDED else None for i in items],
    }


def _embedded_text(item: Item) -> str | None:
    """A ``.txt`` item's text as it was embedded: its file read (a regular file, at most the text loader's cap)
    only if the bytes still have the item's hash; None for any other item, or a file changed or gone."""
    if item.modality is not Modality.TEXT or item.path is None or imported(item.hash):
        return None
    try:
        descriptor = os.open(item.path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_size > DEFAULT_LIMITS.max_text_bytes:
            return None
        os.set_blocking(descriptor, True)
        raw = os.read(descriptor, DEFAULT_LIMITS.max_text_bytes + 1)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    if hashlib.blake2b(raw, digest_size=16).hexdigest() != item.hash:
        return None
    try:
        return raw.decode("utf-8-sig").strip() or None
    except UnicodeDecodeError:
        return None


def export(library: Library, out: str | Path, progress: Progress | None = None, include_failures: bool = False) -> int:
    """Write the library's embedded items (and its failures, if asked: Parquet only, as rows without an
    embedding) to ``out`` (.parquet, or .npz for notebooks); returns rows."""
    ref = library.model
    if ref is None:
        raise ExchangeError(f"{library.folder}: nothing is embedded yet")
    out = Path(out)
    if not out.parent.is_dir():
        raise ExchangeError(f"{out.parent}: no such folder")
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".npz"):
        raise ExchangeError(f"{out}: export as .parquet or .npz")
    if include_failures and suffix == ".npz":
        raise ExchangeError(f"{out}: failures have no embedding to stack; export them as .parquet")
    partial = out.with_name(out.name + PARTIAL_SUFFIX)
    try:
        count = (_write_parquet if suffix == ".parquet" else _write_npz)(
            library, ref, partial, progress, include_failures
        )
        os.replace(partial, out)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ExchangeError(f"{out}: cannot write it ({error.strerror or error})") from None
    return count


def _write_parquet(library: Library, ref: ModelRef, out: Path, progress: Progress | None, failures: bool) -> int:
    count = 0
    with writer(out, ref) as parquet:
        for columns, vectors in _export_batches(library, ref, failures):
            parquet.write_table(table(columns, vectors, ref))
            count += len(vectors)
            if progress:
                progress("export", count, 0)
    return count


def _write_npz(library: Library, ref: ModelRef, out: Path, progress: Progress | None, failures: bool) -> int:
    columns = {"ids": (np.int64, ()), "modalities": (str, ()), "paths": (str, ()), "path_bytes": (bytes, ())}
    columns |= {"texts": (str, ()), "embeddings": (np.float32, (ref.dim,)), "scales": (np.float32, ())}
    npz = NpzWriter(out, columns)
    count = 0
    try:
        for part, vectors in _export_batches(library, ref, failures, segments=False):
            npz.append(
                ids=part["id"],
                modalities=part["modality"],
                paths=[display(p) if p else "" for p in part["path"]],
                path_bytes=[os.fsencode(p) if p else b"" for p in part["path"]],
                texts=[t or "" for t in part["text"]],
                embeddings=vectors,
                scales=np.array(part["scale"], np.float32),
            )
            count += len(vectors)
            if progress:
                progress("export", count, 0)
    except BaseException:
        npz.discard()
        raise
    npz.close(model=np.array(exported_name(ref)), model_fingerprint=np.array(ref.fingerprint))
    return count


# -- import: the file ------------------------------------------------------------------------


def parquet_files(source: str | Path) -> list[Path]:
    """A Parquet file, or the complete Parquet files of a folder (any case of ``.parquet``; shards still being
    written are left out)."""
    source = Path(source)
    if source.is_dir():  # anything but a folder is listed, so a FIFO or device is refused by name, not skipped
        return sorted(p for p in source.iterdir() if p.suffix.lower() == ".parquet" and not p.is_dir())
    if not source.exists():
        raise ExchangeError(f"{source}: no such file or folder")
    return [source]


_FINGERPRINT = re.compile(r"(unverified:)?[0-9a-f]{16,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _bounded(text: str, limit: int) -> str:
    """Text from a file made fit to print: control characters out, at most ``limit`` characters."""
    text = _CONTROL.sub(" ", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _metadata_of(parquet) -> dict[str, str]:
    """The file's key-value metadata (where Polars and DuckDB write it) and the Arrow schema's (pyarrow's)."""
    found = {**(parquet.metadata.metadata or {}), **(parquet.schema_arrow.metadata or {})}
    return {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in found.items()}


def file_model(path: Path, parquet) -> ModelRef:
    """The model a Parquet file was embedded with, from its metadata and its embedding column, checked: a name,
    a fingerprint of the right form, a declared dimension that is the data's, a width a model can have."""
    meta = _metadata_of(parquet)
    name = meta.get(MODEL_NAME, "").strip()
    if not name:
        raise ExchangeError(f"{display(str(path))}: no {MODEL_NAME} in the file's metadata; its model is unknown")
    if len(name) > MAX_NAME or _CONTROL.search(name):
        raise ExchangeError(f"{display(str(path))}: {MODEL_NAME} is not a model name (control characters, or long)")
    name = exported_name(ModelRef(name, "", name, 1))
    fingerprint = meta.get(MODEL_FINGERPRINT) or UNVERIFIED + hashlib.blake2b(name.encode(), digest_size=8).hexdigest()
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise ExchangeError(f"{display(str(path))}: {MODEL_FINGERPRINT} is not a BindScope fingerprint")
    dim = _dimension(path, parquet, meta.get(MODEL_DIM))
    ref = ModelRef(name, fingerprint, _bounded(meta.get(MODEL_TITLE) or name, MAX_TITLE), dim)
    _check_known_width(path, ref)
    return ref


def _dimension(path: Path, parquet, declared: str | None) -> int:
    """The embedding width: the column's fixed size, else the declared one, else the first row's length."""
    import pyarrow as pa

    where = f"{display(str(path))}: column 'embedding'"
    if "embedding" not in parquet.schema_arrow.names:
        raise ExchangeError(f"{display(str(path))}: no 'embedding' column")
    kind = parquet.schema_arrow.field("embedding").type
    listed = pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind)
    if not listed or not pa.types.is_floating(kind.value_type):
        raise ExchangeError(f"{where} must be a list of floats, not {kind}")
    try:
        claimed = int(declared) if declared is not None else None
    except ValueError:
        raise ExchangeError(f"{display(str(path))}: {MODEL_DIM} is not a number ({declared[:20]!r})") from None
    dim = kind.list_size if pa.types.is_fixed_size_list(kind) else claimed
    if dim is None:
        dim = _first_length(parquet)
    if claimed is not None and claimed != dim:
        raise ExchangeError(f"{where} has {dim} values a row, the metadata declares {claimed}")
    if dim is None or not 0 < dim <= MAX_DIM:
        raise ExchangeError(f"{where}: {dim} values a row is not an embedding width (1 to {MAX_DIM:,})")
    return dim


def _first_length(parquet) -> int | None:
    for batch in parquet.iter_batches(batch_size=1, columns=["embedding"]):
        lengths = batch.column(0).value_lengths().drop_null()
        if len(lengths):
            return int(lengths[0].as_py())
    return None


def _check_known_width(path: Path, ref: ModelRef) -> None:
    """A model this machine knows (by name or fingerprint) has one width: a file claiming another is refused."""
    from engine.models import zoo
    from engine.models.errors import WeightsError
    from engine.models.identity import ref_for_entry

    for entry in zoo.entries():
        width = entry.config.out_embed_dim
        if width == ref.dim:
            continue
        same = entry.name == ref.name
        cheap = entry.weights.sha256 or (entry.available and entry.weights_path.suffix == ".safetensors")
        if not same and cheap:  # a .pth's fingerprint would hash its 4.5 GB: known by its name then
            try:
                same = ref_for_entry(entry).fingerprint == ref.fingerprint
            except (OSError, ValueError, WeightsError):  # weights damaged or gone: known by name only
                same = False
        if same:
            raise ExchangeError(
                f"{display(str(path))}: {ref.dim}-dimensional embeddings under {entry.title} ({entry.name}), "
                f"whose embeddings have {width} dimensions; nothing of this file was imported"
            )


def _check_model(path: Path, found: ModelRef, library: Library) -> None:
    wanted = library.model
    if wanted is None:
        return
    same = found.fingerprint == wanted.fingerprint or (
        not (found.verified and wanted.verified) and found.name == wanted.name
    )
    if not same or found.dim != wanted.dim:
        raise ExchangeError(
            f"{display(str(path))}: embedded with {found.title} ({found.name}, {found.dim} dimensions, fingerprint "
            f"{found.fingerprint[:12]}); this library's model is {wanted.title} ({wanted.name}, {wanted.dim} "
            f"dimensions, fingerprint {wanted.fingerprint[:12]}). Nothing of this file was imported."
        )


_KINDS = {  # column -> (what its type must be, the test)
    "id": ("integers", "is_integer"),
    "modality": ("text", "is_string"),
    "path": ("text", "is_string"),
    "path_bytes": ("binary", "is_binary"),
    "text": ("text", "is_string"),
    "scale": ("numbers", "is_numeric"),
    "hash": ("text", "is_string"),
    "size": ("numbers", "is_numeric"),
    "mtime": ("numbers", "is_numeric"),
    "error_kind": ("text", "is_string"),
    "error": ("text", "is_string"),
    "start": ("numbers", "is_numeric"),
    "end": ("numbers", "is_numeric"),
}
MAX_SECONDS = 1e8  # about three years: a span beyond it is not a recording's


def _check_columns(path: Path, parquet) -> None:
    import pyarrow as pa

    names = set(parquet.schema_arrow.names)
    missing = {"modality", "scale"} - names
    if missing or not {"path", "path_bytes", "text"} & names:
        raise ExchangeError(f"{display(str(path))}: missing columns ({', '.join(sorted(missing) or ['path or text'])})")
    tests = {
        "is_integer": pa.types.is_integer,
        "is_string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
        "is_binary": lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t),
        "is_numeric": lambda t: pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t),
    }
    for name, (wanted, test) in _KINDS.items():
        if name in names:
            kind = parquet.schema_arrow.field(name).type
            if not (tests[test](kind) or pa.types.is_null(kind)):
                raise ExchangeError(f"{display(str(path))}: column {name!r} must hold {wanted}, not {kind}")


def import_file(
    library: Library,
    path: Path,
    report: ImportReport,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    trusted: bool = False,
) -> None:
    """Import one Parquet file in one transaction, streaming batches of bounded bytes. ``trusted``: rows
    from this library's own cluster run, whose hashes it computed (kept as they are, not as imported)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:  # the check every loader starts with: a FIFO or device is refused, never opened (it would block)
        check_file(path, max_bytes=MAX_PARQUET_BYTES)
    except PreprocessError as error:
        raise ExchangeError(f"{display(str(path))}: not a readable Parquet file ({error.reason})") from None
    try:
        parquet = pq.ParquetFile(path, page_checksum_verification=True)
    except (pa.ArrowException, OSError) as error:
        raise ExchangeError(f"{display(str(path))}: not a readable Parquet file ({error})") from None
    try:
        ref = file_model(path, parquet)
        _check_columns(path, parquet)
    except (pa.ArrowException, OSError) as error:
        raise ExchangeError(f"{display(str(path))}: not a readable Parquet file ({error})") from None
    _check_model(path, ref, library)
    if parquet.metadata.num_rows == 0:
        report.files += 1
        return  # names no model: a new library takes none from an empty file
    roots = sorted(((r.path.rstrip(os.sep) + os.sep, r.id) for r in library.roots()), reverse=True)
    reader = _Reader(path, ref.dim, _Places(roots), report, trusted)
    done, failed, invalid = report.rows, 0, len(report.invalid)  # the report counts a file once committed
    try:
        batches = (
            (batch.num_rows, reader.rows(batch)) for batch in parquet.iter_batches(batch_size=rows_per_batch(ref.dim))
        )
        with library.bulk(ref) as bulk:
            for count, (records, vectors, scales, failures, windows) in _ahead(batches):
                if cancelled():
                    raise _Cancelled
                bulk.add(records, vectors, scales, failures)
                refused = bulk.add_segments(windows.records, windows.vectors, windows.scales, windows.spans)
                report.invalid += [f"{reader.where}: row {windows.rows[n]}: no file of this window" for n in refused]
                done += count
                failed += len(failures)
                if progress:
                    progress("import", done, 0)
            report.changed += bulk.changed
            report.segments += bulk.segments
    except (pa.ArrowException, OSError) as error:
        del report.invalid[invalid:]
        raise ExchangeError(
            f"{display(str(path))}: damaged after {done - report.rows:,} rows ({error}); nothing of it was imported"
        ) from None
    except ExchangeError:
        del report.invalid[invalid:]  # the file's rows were rolled back: so are its notes
        raise
    report.files += 1
    report.rows, report.failures = done, report.failures + failed
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
    trusted: bool = False,
) -> ImportReport:
    """Import a Parquet file, or a folder of them file by file (a file refused whole is listed in the report's
    ``refused`` and the others are imported); ``after_file`` runs after each (keeping the index current)."""
    report = ImportReport()
    folder = Path(source).is_dir()
    for path in parquet_files(source):
        try:
            import_file(library, path, report, progress, cancelled, trusted)
        except _Cancelled:
            break
        except ExchangeError as error:
            if not folder:
                raise
            report.refused.append(str(error))
            continue
        after_file()
    return report


# -- import: the rows ------------------------------------------------------------------------


class _Places:
    """Paths as the scanner stores them (the folder resolved, the name kept) and their roots, with each folder
    resolved once: resolving every path of a million-row import cost more than the rest of the import."""

    def __init__(self, roots: list[tuple[str, int]]):
        self.roots = roots
        self._folders: dict[str, str] = {}
        self._modalities: dict[str, Modality] = {}

    def path(self, path: str) -> str:
        folder, name = os.path.split(os.path.normpath(path))
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


class Windows(NamedTuple):
    """The moments among a batch's rows: their files' records, vectors, scales, spans and row numbers in the file."""

    records: list[Record]
    vectors: np.ndarray
    scales: np.ndarray
    spans: list[tuple[float, float]]
    rows: list[int]


class _BadCell(ValueError):
    """A cell that makes its row invalid; the message names the column."""


_HASH = re.compile(rf"[\x21-\x7e]{{1,{MAX_HASH}}}")


class _Reader:
    """Record batches of one file -> (records, their unit vectors, scales, failures); a bad row is noted in
    the report with the file, the row and the column, a bad column refuses the file."""

    def __init__(self, path: Path, dim: int, places: _Places, report: ImportReport, trusted: bool):
        self.where, self.dim, self.places, self.report, self.trusted = display(str(path)), dim, places, report, trusted
        self.first = 0  # the file's rows before this batch

    def rows(self, batch):
        first, count = self.first, batch.num_rows
        self.first += count
        column = {name: batch.column(name).to_pylist() for name in batch.schema.names if name in _KINDS}
        vectors, present = self._vectors(batch.column("embedding"), first)
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.isfinite(vectors).all(axis=1)
            norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))
        kinds, errors = column.get("error_kind"), column.get("error")
        records, kept, failures, spans = [], [], [], []
        for n in range(count):
            try:
                record = self._record(column, n)
                span = self._span(column, n, record)
                if kinds is not None and kinds[n] is not None and span is None:
                    kind, error = _bounded(kinds[n], 64), _bounded(errors[n] if errors else "", MAX_ERROR)
                    failures.append((record, kind, error))
                    continue
                if not present[n]:
                    raise _BadCell("column 'embedding': empty, and no error_kind")
                if not finite[n]:
                    raise _BadCell("column 'embedding': not finite (NaN, infinity, or beyond float32)")
                if not norms[n] > 0:
                    raise _BadCell("column 'embedding': all zeros")
                scale = column["scale"][n]
                if scale is None or not (math.isfinite(scale) and 0 < scale <= MAX_SCALE):
                    raise _BadCell(f"column 'scale': {scale!r} is not a scale (above 0, at most {MAX_SCALE:g})")
            except _BadCell as bad:
                self.report.invalid.append(f"{self.where}: row {first + n + 1}: {bad}")
                continue
            records.append(record)
            kept.append(n)
            spans.append(span)
        norms = norms[kept]
        scaled = np.abs(norms - 1.0) >= 1e-4  # unit vectors are kept bit for bit
        matrix = vectors if len(kept) == count and not scaled.any() else vectors[kept]
        if scaled.any():  # divided in float64: a norm beyond float32's range must not turn the row into zeros
            matrix[scaled] = (matrix[scaled] / norms[scaled, None]).astype(np.float32)
        scales = np.asarray([float(column["scale"][n]) for n in kept], np.float32)
        if all(span is None for span in spans):
            return records, matrix, scales, failures, Windows([], matrix[:0], scales[:0], [], [])
        files = [k for k, span in enumerate(spans) if span is None]
        cuts = [k for k, span in enumerate(spans) if span is not None]
        windows = Windows(
            [records[k] for k in cuts],
            matrix[cuts],
            scales[cuts],
            [spans[k] for k in cuts],
            [first + kept[k] + 1 for k in cuts],
        )
        return [records[k] for k in files], matrix[files], scales[files], failures, windows

    def _span(self, column: dict[str, list], n: int, record: Record) -> tuple[float, float] | None:
        """Row ``n``'s window (start, end) in seconds, or None for a file's own row."""
        start, end = (column.get(name)[n] if column.get(name) is not None else None for name in ("start", "end"))
        if start is None and end is None:
            return None
        if start is None or end is None or not (0 <= start < end <= MAX_SECONDS):
            raise _BadCell(f"columns 'start' and 'end': {start!r}-{end!r} is not a span of seconds")
        if record.path is None:
            raise _BadCell("columns 'start' and 'end': a text has no time to cut")
        return float(start), float(end)

    def _vectors(self, embedding, first: int) -> tuple[np.ndarray, np.ndarray]:
        """The batch's embeddings as float32 rows (zeros where null) and which rows have one; a row of another
        length refuses the whole file."""
        import pyarrow as pa

        count, dim = len(embedding), self.dim
        present = ~np.asarray(embedding.is_null().to_numpy(zero_copy_only=False), bool)
        if not pa.types.is_fixed_size_list(embedding.type):
            lengths = np.asarray(embedding.value_lengths().fill_null(dim).to_numpy(zero_copy_only=False))
            wrong = np.flatnonzero(lengths != dim)
            if len(wrong):
                raise ExchangeError(
                    f"{self.where}: column 'embedding': row {first + int(wrong[0]) + 1} has {int(lengths[wrong[0]])} "
                    f"values, the file's embeddings {dim}; nothing of this file was imported"
                )
        with np.errstate(over="ignore"):
            flat = np.asarray(embedding.flatten().to_numpy(zero_copy_only=False), np.float32).reshape(-1, dim)
        if present.all():
            return flat, present
        vectors = np.zeros((count, dim), np.float32)
        vectors[present] = flat
        return vectors, present

    def _record(self, column: dict[str, list], n: int) -> Record:
        """Row ``n`` as a record; ``_BadCell`` names the column that makes it invalid."""

        def value(name: str):
            values = column.get(name)
            return None if values is None else values[n]

        try:
            modality = self.places.modality(value("modality") or "")
        except ValueError:
            raise _BadCell(f"column 'modality': unknown modality {_bounded(str(value('modality')), 40)!r}") from None
        size, mtime = value("size"), value("mtime")
        if size is not None and not (math.isfinite(size) and size == int(size) and 0 <= size < 2**62):
            raise _BadCell(f"column 'size': {size!r} is not a file size")
        if mtime is not None and not (math.isfinite(mtime) and abs(mtime) < 1e12):
            raise _BadCell(f"column 'mtime': {mtime!r} is not a modification time")
        raw = value("path_bytes")
        path = os.fsdecode(raw) if raw is not None else value("path")
        text = value("text")
        if path:
            if "\0" in path or not os.path.isabs(path):
                raise _BadCell(
                    f"column 'path': {_bounded(display(path), 80)!r} is not an absolute path "
                    "(an import never resolves one against the working folder)"
                )
            path = self.places.path(path)
            claimed = value("hash")
            if claimed is not None and not _HASH.fullmatch(claimed):
                raise _BadCell("column 'hash': not a content hash (printable ASCII, at most 128 characters)")
            identity = claimed or "path:" + hashlib.blake2b(os.fsencode(path), digest_size=16).hexdigest()
            identity = identity if self.trusted else IMPORTED + identity
            return Record(
                self.places.root_of(path), path, None, modality, int(size or 0), float(mtime or 0.0), identity
            )
        if text is not None:
            text = display(text).strip()
            if not text:
                raise _BadCell("column 'text': only white space")
            if len(text) > DEFAULT_LIMITS.max_text_bytes:
                raise _BadCell(f"column 'text': longer than {DEFAULT_LIMITS.max_text_bytes:,} characters")
            identity = hash_text(text)
            return Record(None, None, text, Modality.TEXT, 0, 0.0, identity if self.trusted else IMPORTED + identity)
        raise _BadCell("columns 'path' and 'text': neither a path nor a text")
