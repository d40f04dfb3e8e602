"""Indexing on a Ray cluster: the library scans, Ray Data decodes and embeds, Parquet shards come back.

ImageBind-huge embeds about half an image a second on a laptop's CPU and hundreds on a GPU, so
a large archive is embedded where the GPUs are, with Ray Data's batch-inference pattern:

* the items to embed become a dataset of rows (path or text, modality, content hash, size, mtime);
* CPU tasks decode them with the loaders, limits and typed errors of the in-process encoder, and
  hash each file again once decoded (a file replaced meanwhile is never stored under the old hash;
  a file the driver did not hash, in ``embed_shards``, is hashed there first);
* a pool of actors embeds them, each loading the model once (on a GPU in half precision when the
  cluster has GPUs, else on the CPU in float32) and running the in-process encoder's batches;
* tasks write each batch as a Parquet shard in the interchange schema (``engine.exchange``), under
  a temporary name renamed once complete; a shard's name is a digest of its model and rows.

``RayBackend`` is the indexer's backend for a library (``Workspace.index(..., backend=RayCluster(...))``
chooses it; the indexer's one loop drives it): it imports every shard as it lands (the library is
searchable while the cluster works) and, on a re-run, first imports the complete shards a killed run
left whose rows are all still pending, so only what is missing is embedded again.
``embed_shards`` is the same pipeline for a cluster that cannot see the library: shards only, their
paths mapped to the desktop's view of the files.

Fault tolerance is Ray's: a task or an actor that dies has its batch run again. Ray is imported
here only, inside the functions: the desktop app never imports it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from engine.exchange import PARTIAL_SUFFIX, ExchangeError, file_model, import_embeddings, parquet_files, write
from engine.indexer import BackendError, EmbedReport, InProcess, online, record_change, walk
from engine.library import EMBEDDED, FAILED, PENDING, Item, Library
from engine.library.files import display, hash_file
from engine.modality import Modality
from engine.models.identity import ModelRef
from engine.preprocess.detect import detect_modality
from engine.preprocess.errors import PreprocessError, UnreadableFile, is_transient
from engine.progress import Cancelled, Progress, never

if TYPE_CHECKING:
    import pyarrow as pa

    from engine.models.zoo import ModelEntry
    from engine.preprocess.spec import PreprocessSpec
    from engine.search_index import SearchIndex

SHARDS = "shards"  # the default shards folder, inside the library
_ACTOR_BASE_MEMORY = 1 << 30  # a Python worker with PyTorch imported, before its model (measured: about 0.5 GiB)

# Where a row stands on its way through the pipeline: decoded, then the item statuses EMBEDDED or FAILED (the
# library's own words); CHANGED and OFFLINE rows are not written (the file changed, or went, while it was read).
DECODED, CHANGED, OFFLINE = "decoded", "changed", "offline"


class ClusterError(BackendError):
    """The cluster cannot do the job (unreachable, no model on its workers...); the message says why."""


class _Entry(NamedTuple):
    """One item to embed, as the workers see it."""

    path: str | None
    text: str | None
    modality: Modality
    size: int
    mtime: float
    hash: str | None  # None: the worker hashes the file as it reads it


@dataclass
class ShardsReport:
    model: str | None = None
    files: int = 0  # files sent to the cluster
    embedded: int = 0
    failed: int = 0
    ignored: int = 0  # not a regular file, or no loader reads it
    changed: list[str] = field(default_factory=list)  # changed while they were read: not written, run again
    offline: list[str] = field(default_factory=list)  # gone while they were read
    shards: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cancelled: bool = False


# -- the library's path: RayBackend -----------------------------------------------------------------


class RayBackend:
    """Embeds a library's pending items on the Ray cluster at ``address`` (``local``, ``auto`` or
    ``ray://host:port``): shards are written to ``folder`` and imported as they land, so the library is searchable
    while the cluster works. Items whose names a Parquet file cannot carry (not UTF-8) are embedded here by
    ``in_process``. Used as a context manager: entering connects and sizes the pipeline."""

    def __init__(
        self,
        address: str,
        folder: Path,
        entry: ModelEntry,
        in_process: InProcess,
        device: str = "auto",
        precision: str = "auto",
        actors: int | None = None,
        shard_size: int | None = None,
    ):
        self.address, self.folder, self.entry, self.in_process = address, folder, entry, in_process
        self.device, self.precision, self.actors, self.shard_size = device, precision, actors, shard_size
        self._stack = contextlib.ExitStack()
        self.pipeline: _Pipeline | None = None

    def __enter__(self) -> RayBackend:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._stack.enter_context(_connected(self.address))
        ref, batch_size = self.in_process.ref, self.in_process.batch_size
        self.pipeline = _Pipeline.on_cluster(
            self.entry, ref, self.device, self.precision, batch_size, self.actors, self.shard_size
        )
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def embed(
        self, library: Library, items: list[Item], progress: Progress | None, cancelled: Cancelled, index: SearchIndex
    ) -> EmbedReport:
        report = EmbedReport()
        ready, report.offline = online(library, items)
        todo = [i for i in ready if _parquet_can_carry(i)]
        uncarried = [i for i in ready if not _parquet_can_carry(i)]
        if todo:
            todo = self._after_leftovers(library, todo, report, index)
            report.changed += self._run(library, todo, report, progress, cancelled, index)
        if uncarried and not cancelled():
            report.add(self.in_process.embed(library, uncarried, progress, cancelled, index))
        report.cancelled = cancelled()
        return report

    def embed_segments(
        self, library: Library, items: list[Item], progress: Progress | None, cancelled: Cancelled, index: SearchIndex
    ) -> EmbedReport:
        """Moments are cut here, with the in-process model: one long file's windows come from one sequential read,
        which a cluster task would repeat whole for each of its shards."""
        return self.in_process.embed_segments(library, items, progress, cancelled, index)

    def _import(self, library: Library, shard: str | Path, report: EmbedReport, index: SearchIndex) -> None:
        imported = import_embeddings(library, shard, after_file=lambda: index.maintain(final=True), trusted=True)
        report.embedded += imported.rows - imported.failures - len(imported.invalid)
        report.failed += imported.failures
        report.warnings.extend(imported.invalid)

    def _after_leftovers(
        self, library: Library, todo: list[Item], report: EmbedReport, index: SearchIndex
    ) -> list[Item]:
        """Import the complete shards a killed run left for these items; returns the items still to embed."""
        leftovers = _leftover_shards(self.folder, self.in_process.ref, todo)
        for shard in leftovers:
            self._import(library, shard, report, index)
        if not leftovers:
            return todo
        still = {i.id for i in library.items(status=PENDING)}
        return [i for i in todo if i.id in still]

    def _run(
        self,
        library: Library,
        todo: list[Item],
        report: EmbedReport,
        progress: Progress | None,
        cancelled: Cancelled,
        index: SearchIndex,
    ) -> int:
        """One pass of the pipeline over ``todo``, importing each shard as it lands; returns how many files changed."""
        by_path = {i.path: i for i in todo if i.path is not None}
        done, changed = 0, 0
        entries = [_Entry(i.path, i.text, i.modality, i.size, i.mtime, i.hash) for i in todo]
        for landed in self.pipeline.run(entries, self.folder):
            if landed["shard"] is not None:
                self._import(library, landed["shard"], report, index)
            gone = [os.fsdecode(p) for p in landed["offline"]]
            library.set_missing(gone, True)
            report.offline += len(gone)
            for path in landed["changed"]:
                record_change(library, by_path[os.fsdecode(path)])
            changed += len(landed["changed"])
            done += landed["rows"]
            if progress:
                progress("embed", done, len(todo))
            if cancelled():
                break
        return changed


def _parquet_can_carry(item: Item) -> bool:
    """A Parquet string holds UTF-8 only: a file name in another encoding is embedded in process instead."""
    return _utf8(item.path or item.text or "")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _leftover_shards(folder: Path, ref: ModelRef, todo: list[Item]) -> list[Path]:
    """The complete shards of this model a killed run left for these items: every row still pending with the same
    content, and no failure that may pass (those are tried again)."""
    wanted = {_identity(i.path, i.text): i.hash for i in todo}
    return [path for path in parquet_files(folder) if _covers(path, ref, wanted)]


def _identity(path: str | None, text: str | None) -> tuple[str, str | None]:
    """What names an item in a shard: its path, or for a typed text (no path) the text itself; a ``.txt`` file's
    row carries its text too, so the pair would never match the library's item."""
    return ("path", path) if path is not None else ("text", text)


def _covers(path: Path, ref: ModelRef, wanted: dict[tuple[str, str | None], str]) -> bool:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        if file_model(path, parquet).fingerprint != ref.fingerprint:
            return False
        rows = parquet.read(columns=["path", "text", "hash", "error_kind"]).to_pylist()
    except (pa.ArrowException, OSError, ExchangeError, KeyError):
        return False
    return bool(rows) and all(
        wanted.get(_identity(row["path"], row["text"])) == row["hash"] and not is_transient(row["error_kind"])
        for row in rows
    )


# -- the two-step path: embed_shards ----------------------------------------------------------


def embed_shards(
    paths: list[str | Path],
    model: str,
    out: str | Path,
    address: str,
    strip_prefix: str | None = None,
    prefix: str | None = None,
    progress: Progress | None = None,
    batch_size: int | None = None,
    cancelled: Cancelled = never,
    actors: int | None = None,
    shard_size: int | None = None,
    precision: str = "auto",
) -> ShardsReport:
    """Embed the files under ``paths`` (as the workers see them) with ``model`` into shards in ``out``, for a
    library elsewhere (``bindscope import``). Paths under ``strip_prefix`` are written under ``prefix`` instead."""
    from engine.models.identity import ref_for_entry
    from engine.models.zoo import resolve

    entry = resolve(model)
    if not entry.available:
        raise ClusterError(f"{entry.title} is not on this machine (expected {entry.weights_path})")
    ref = ref_for_entry(entry)
    report = ShardsReport(model=ref.name)
    entries = _scan(paths, strip_prefix, report, progress, cancelled)
    report.files = len(entries)
    if cancelled() or not entries:
        report.cancelled = cancelled()
        return report
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with _connected(address):
        pipeline = _Pipeline.on_cluster(entry, ref, "auto", precision, batch_size, actors, shard_size)
        done = 0
        for landed in pipeline.run(entries, folder, strip_prefix, prefix):
            if landed["shard"] is not None:
                report.shards.append(landed["shard"])
            report.embedded += landed["embedded"]
            report.failed += landed["failed"]
            report.changed += [display(os.fsdecode(p)) for p in landed["changed"]]
            report.offline += [display(os.fsdecode(p)) for p in landed["offline"]]
            done += landed["rows"]
            if progress:
                progress("embed", done, len(entries))
            if cancelled():
                report.cancelled = True
                break
    return report


def _scan(
    paths: list[str | Path], strip_prefix: str | None, report: ShardsReport, progress: Progress | None, cancelled
) -> list[_Entry]:
    """The regular files under ``paths`` that a loader reads, with their modality, size and time; no file is read
    whole here (the workers hash what they decode), so a cluster starts on an archive of millions at once."""
    candidates = []
    for path in paths:
        path = os.path.realpath(os.path.expanduser(os.fspath(path)))
        if strip_prefix is not None and _relative(path, strip_prefix) is None:
            raise ClusterError(f"{display(path)} is not under --strip-prefix {display(strip_prefix)}")
        if os.path.isdir(path):
            candidates += walk(path, report.warnings).files
        elif os.path.isfile(path):
            candidates.append(path)
        else:
            raise ClusterError(f"{display(path)}: no such file or folder")
    unique = {}  # a file reached twice (through a link) once, under the path found first: the one --strip-prefix maps
    for path in candidates:
        unique.setdefault(os.path.realpath(path), path)
    entries = []
    for done, path in enumerate(unique.values(), start=1):
        if cancelled():
            break
        if progress and (done % 200 == 0 or done == len(unique)):
            progress("scan", done, len(unique))
        entry = _entry(path, report)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry(path: str, report: ShardsReport) -> _Entry | None:
    """A file to embed, its content hash left to the worker that reads it; None (counted or said) for what is not
    a regular file a loader reads."""
    try:
        info = os.stat(path)
    except OSError as error:
        report.warnings.append(f"{display(path)}: skipped ({error.strerror})")
        return None
    if not stat.S_ISREG(info.st_mode):
        report.ignored += 1
        return None
    if not _utf8(path):
        report.warnings.append(f"{display(path)}: the name is not UTF-8, which a shard cannot carry; skipped")
        return None
    modality = detect_modality(path)
    if modality is None:
        report.ignored += 1
        return None
    return _Entry(path, None, modality, info.st_size, info.st_mtime, None)


def _relative(path: str, prefix: str) -> str | None:
    """``path`` below ``prefix`` (as "/rest", or "" for the prefix itself), or None when it is not under it."""
    prefix = prefix.rstrip("/")
    if path == prefix:
        return ""
    return path[len(prefix) :] if path.startswith(prefix + "/") else None


def _mapped(path: str, strip_prefix: str | None, prefix: str | None) -> str:
    """A worker's path as the desktop sees it: ``strip_prefix`` (checked by the scan) replaced by ``prefix``."""
    if strip_prefix is None and prefix is None:
        return path
    rest = path if strip_prefix is None else _relative(path, strip_prefix)
    return path if rest is None else (prefix or "").rstrip("/") + rest


# -- the pipeline -----------------------------------------------------------------------------


@contextlib.contextmanager
def _connected(address: str) -> Iterator[None]:
    """Ray as asked: ``local`` starts one on this machine, ``auto`` joins this machine's cluster, ``ray://host:port``
    connects to a remote one. A process already connected (a notebook, the tests) keeps its connection."""
    import ray

    if ray.is_initialized():
        yield
        return
    options = {"include_dashboard": False} if address == "local" else {}
    try:
        ray.init(address=None if address == "local" else address, logging_level=logging.WARNING, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {error}") from None
    try:
        yield
    finally:
        ray.shutdown()


@dataclass(frozen=True)
class _Pipeline:
    """How the cluster embeds: the model (as its workers find it), where it runs, the batch and shard sizes."""

    model: str  # a zoo name or a checkpoint path, resolved on each worker
    ref: ModelRef
    spec: PreprocessSpec
    device: str
    precision: str
    actors: int
    gpus_per_actor: int
    memory_per_actor: int | None  # bytes, claimed by CPU actors
    batch_size: int
    shard_size: int

    @classmethod
    def on_cluster(
        cls,
        entry: ModelEntry,
        ref: ModelRef,
        device: str,
        precision: str,
        batch_size: int | None,
        actors: int | None,
        shard_size: int | None,
    ) -> _Pipeline:
        """One actor per GPU when the cluster has GPUs (and the device allows them), else one per two CPUs (the
        other decodes for it), each claiming its checkpoint's size in memory so that Ray never packs more CPU actors
        on a node than their models fit; the in-process encoder's batch sizes."""
        import ray

        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        if device == "cuda" and not gpus:
            raise ClusterError("--device cuda was asked for, but the Ray cluster has no GPUs")
        on_gpu = gpus > 0 and device in ("auto", "cuda")
        actors = actors or (gpus if on_gpu else max(1, cpus // 2))
        if actors > (gpus if on_gpu else cpus - 1):
            where = f"{gpus} GPUs" if on_gpu else f"{cpus} CPUs, one of them kept for decoding"
            raise ClusterError(f"{actors} actors do not fit on the Ray cluster ({where})")
        batch = batch_size or (64 if on_gpu else 16)
        return cls(
            entry.name,
            ref,
            entry.spec,
            "cuda" if on_gpu else "cpu",
            precision,
            actors,
            1 if on_gpu else 0,
            None if on_gpu else _ACTOR_BASE_MEMORY + entry.weights_path.stat().st_size,
            batch,
            shard_size or 4 * batch,
        )

    def run(
        self, entries: list[_Entry], folder: Path, strip_prefix: str | None = None, prefix: str | None = None
    ) -> Iterator[dict]:
        """Decode, embed and write ``entries``; yields one summary per shard as it lands (its path, rows, counts,
        and the paths that changed or went offline while they were read)."""
        import ray
        import ray.data

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the caller's progress callback says how far it is
        context.print_on_execution_start = False
        dataset = ray.data.from_arrow(_blocks(entries, self.batch_size))
        dataset = dataset.map_batches(_decode, batch_format="pyarrow", num_cpus=1, fn_kwargs={"spec": self.spec})
        dataset = dataset.map_batches(
            _Embedder,
            batch_format="pyarrow",
            batch_size=self.batch_size,
            compute=ray.data.ActorPoolStrategy(size=self.actors),
            num_cpus=1,
            num_gpus=self.gpus_per_actor or None,
            memory=self.memory_per_actor,
            fn_constructor_kwargs={
                "model": self.model,
                "fingerprint": self.ref.fingerprint,
                "device": self.device,
                "precision": self.precision,
                "batch_size": self.batch_size,
            },
        )
        dataset = dataset.map_batches(
            _write_shard,
            batch_format="pyarrow",
            batch_size=self.shard_size,
            fn_kwargs={"ref": self.ref, "folder": str(folder), "strip_prefix": strip_prefix, "prefix": prefix},
        )
        try:
            yield from dataset.iter_rows()
        except ray.exceptions.RayError as error:
            raise ClusterError(f"the Ray pipeline failed: {_cause(error)}") from None


def _cause(error: BaseException) -> str:
    """The first line of what went wrong on a worker, without Ray's wrapping."""
    cause = getattr(error, "cause", None) or error
    lines = [line for line in str(cause).splitlines() if line.strip()]
    return lines[-1] if lines else type(cause).__name__


def _blocks(entries: list[_Entry], rows: int) -> list[pa.Table]:
    """The entries as Arrow tables of ``rows`` rows, one block each, so that decoding spreads over tasks. Paths
    travel as bytes: a file name need not be UTF-8 on the workers."""
    import pyarrow as pa

    def table(part: list[_Entry]) -> pa.Table:
        return pa.table(
            {
                "path": pa.array([None if e.path is None else os.fsencode(e.path) for e in part], pa.binary()),
                "text": pa.array([e.text for e in part], pa.string()),
                "modality": pa.array([e.modality.value for e in part], pa.string()),
                "size": pa.array([e.size for e in part], pa.int64()),
                "mtime": pa.array([e.mtime for e in part], pa.float64()),
                "hash": pa.array([e.hash for e in part], pa.string()),
            }
        )

    ordered = sorted(entries, key=lambda e: (e.modality.value, e.path or "", e.text or ""))
    return [table(ordered[start : start + rows]) for start in range(0, len(ordered), rows)]


# -- stage 1: decode on CPU tasks -----------------------------------------------------------------


def _decode(batch: pa.Table, spec: PreprocessSpec) -> pa.Table:
    """Each row's model input (bytes, shape and dtype) or its typed error, and its content hash (read here when the
    driver did not hash it); files that changed since they were hashed, or went away while read, are marked so."""
    import pyarrow as pa

    columns = batch.to_pydict()
    decoded = {name: [] for name in ("hash", "outcome", "tensor", "shape", "dtype", "error_kind", "error")}
    for row in range(batch.num_rows):
        content_hash, outcome, tensor, error = _decode_one(
            columns["path"][row], columns["text"][row], Modality(columns["modality"][row]), columns["hash"][row], spec
        )
        array = None if tensor is None else tensor.numpy()
        decoded["hash"].append(content_hash)
        decoded["outcome"].append(outcome)
        decoded["tensor"].append(None if array is None else array.tobytes())
        decoded["shape"].append(None if array is None else list(array.shape))
        decoded["dtype"].append(None if array is None else array.dtype.str)
        decoded["error_kind"].append(None if error is None else error.kind)
        decoded["error"].append(None if error is None else error.reason)
    types = {"tensor": pa.binary(), "shape": pa.list_(pa.int64())}
    batch = batch.drop_columns(["hash"])
    for name, values in decoded.items():
        batch = batch.append_column(name, pa.array(values, types.get(name, pa.string())))
    return batch


def _decode_one(
    raw_path: bytes | None, text: str | None, modality: Modality, content_hash: str | None, spec: PreprocessSpec
):
    """(content hash, outcome, tensor, error) for one item, as the in-process scan, encoder and indexer decide it."""
    from engine.preprocess import DEFAULT_LIMITS, prepare_loader, tokenize
    from engine.preprocess.safe import load_safely

    if raw_path is None:
        loaded = load_safely(lambda t: tokenize(t, spec)[0], text)
        if isinstance(loaded, PreprocessError):
            return content_hash, FAILED, None, loaded
        return content_hash, DECODED, loaded, None
    path = os.fsdecode(raw_path)
    try:
        content_hash = content_hash or hash_file(path)
    except OSError as error:
        if not os.path.exists(path):
            return None, OFFLINE, None, None
        return None, FAILED, None, UnreadableFile(path, f"cannot read it ({error.strerror or error})")
    loader = prepare_loader(modality)
    loaded = load_safely(lambda p: loader(p, spec, limits=DEFAULT_LIMITS), path)
    if isinstance(loaded, PreprocessError):
        if type(loaded).transient and not os.path.exists(path):
            return content_hash, OFFLINE, None, None
        return content_hash, FAILED, None, loaded
    if _hash_now(path) != content_hash:
        return content_hash, CHANGED, None, None
    return content_hash, DECODED, loaded, None


def _hash_now(path: str) -> str | None:
    try:
        return hash_file(path)
    except OSError:
        return None


# -- stage 2: embed on an actor pool --------------------------------------------------------------


class _Embedder:
    """One actor: the model loaded once (and checked to be the library's), then batches of decoded rows embedded
    by the in-process encoder (its batching, out-of-memory halving and finiteness checks)."""

    def __init__(self, model: str, fingerprint: str, device: str, precision: str, batch_size: int):
        from engine.encoder import Encoder
        from engine.models.factory import load_model
        from engine.models.identity import ref_for_entry
        from engine.models.zoo import resolve

        entry = resolve(model)
        if not entry.available:
            raise ClusterError(f"{entry.title} is not on this worker (expected {entry.weights_path})")
        found = ref_for_entry(entry)
        if found.fingerprint != fingerprint:
            raise ClusterError(
                f"{entry.weights_path} on this worker is not the library's model "
                f"(fingerprint {found.fingerprint[:12]}, expected {fingerprint[:12]})"
            )
        self.encoder = Encoder(load_model(entry, device=device, precision=precision), batch_size=batch_size)
        self.dim = entry.config.out_embed_dim

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow as pa

        columns = batch.to_pydict()
        outcomes, kinds, errors = columns["outcome"], columns["error_kind"], columns["error"]
        embeddings = np.full((batch.num_rows, self.dim), np.nan, np.float32)
        scales: list[float | None] = [None] * batch.num_rows
        for modality, group in _same_shapes(columns):
            for start in range(0, len(group), self.encoder.batch_size):
                for result in self.encoder._run(modality, group[start : start + self.encoder.batch_size]):
                    row = result.index
                    if result.ok:
                        outcomes[row], embeddings[row], scales[row] = EMBEDDED, result.embedding, result.scale
                    else:
                        outcomes[row], kinds[row], errors[row] = FAILED, result.error.kind, result.error.reason
        flat = pa.array(embeddings.reshape(-1), pa.float32())
        kept = batch.drop_columns(["outcome", "tensor", "shape", "dtype", "error_kind", "error"])
        return (
            kept.append_column("outcome", pa.array(outcomes, pa.string()))
            .append_column("embedding", pa.FixedSizeListArray.from_arrays(flat, self.dim))
            .append_column("scale", pa.array(scales, pa.float32()))
            .append_column("error_kind", pa.array(kinds, pa.string()))
            .append_column("error", pa.array(errors, pa.string()))
        )


def _same_shapes(columns: dict[str, list]) -> Iterator[tuple[Modality, list]]:
    """The decoded rows grouped by modality and input shape, as (row, source, tensor) for the encoder."""
    import torch

    groups: dict[tuple, list] = {}
    for row, outcome in enumerate(columns["outcome"]):
        if outcome != DECODED:
            continue
        shape, dtype = tuple(columns["shape"][row]), columns["dtype"][row]
        array = np.frombuffer(columns["tensor"][row], dtype=np.dtype(dtype)).reshape(shape)
        source = columns["text"][row] if columns["path"][row] is None else os.fsdecode(columns["path"][row])
        key = (columns["modality"][row], shape, dtype)
        groups.setdefault(key, []).append((row, source, torch.from_numpy(array.copy())))
    for (modality, _, _), group in groups.items():
        yield Modality(modality), group


# -- stage 3: write shards ------------------------------------------------------------------------


def _write_shard(batch: pa.Table, ref: ModelRef, folder: str, strip_prefix: str | None, prefix: str | None) -> pa.Table:
    """Write the embedded and failed rows as one shard (a temporary name, synced, then renamed); one summary row."""
    import pyarrow as pa

    columns = batch.to_pydict()
    outcomes = columns["outcome"]
    keep = [row for row, outcome in enumerate(outcomes) if outcome in (EMBEDDED, FAILED)]
    shard = None
    if keep:
        paths = [None if p is None else _mapped(os.fsdecode(p), strip_prefix, prefix) for p in columns["path"]]
        rows = {
            "path": [paths[row] for row in keep],
            **{name: [columns[name][row] for row in keep] for name in ("text", "modality", "hash", "size", "mtime")},
            **{name: [columns[name][row] for row in keep] for name in ("scale", "error_kind", "error")},
        }
        embeddings = batch.column("embedding").combine_chunks().flatten().to_numpy().reshape(-1, ref.dim)[keep]
        shard = str(_write_atomically(Path(folder) / _shard_name(ref, rows), rows, embeddings, ref))
    return pa.table(
        {
            "shard": pa.array([shard], pa.string()),
            "rows": pa.array([batch.num_rows], pa.int64()),
            "embedded": pa.array([outcomes.count(EMBEDDED)], pa.int64()),
            "failed": pa.array([outcomes.count(FAILED)], pa.int64()),
            "changed": pa.array([_paths_with(columns, CHANGED)], pa.list_(pa.binary())),
            "offline": pa.array([_paths_with(columns, OFFLINE)], pa.list_(pa.binary())),
        }
    )


def _paths_with(columns: dict[str, list], outcome: str) -> list[bytes]:
    return [columns["path"][row] for row, found in enumerate(columns["outcome"]) if found == outcome]


def _shard_name(ref: ModelRef, rows: dict[str, list]) -> str:
    """The same rows of the same model always make the same name: a re-run recognises what is written."""
    digest = hashlib.blake2b(ref.fingerprint.encode(), digest_size=16)
    for modality, path, text, content_hash in zip(
        rows["modality"], rows["path"], rows["text"], rows["hash"], strict=True
    ):
        digest.update(f"{modality}\0{path or ''}\0{text or ''}\0{content_hash}\n".encode())
    return f"{ref.key}-{digest.hexdigest()}.parquet"


def _write_atomically(final: Path, rows: dict[str, list], embeddings: np.ndarray, ref: ModelRef) -> Path:
    """Written under a temporary name (never imported), flushed to disk, then renamed: a shard is whole or absent."""
    if final.exists():  # the same rows, written by an earlier attempt
        return final
    partial = final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}")
    try:
        write(partial, rows, embeddings, ref)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return final
