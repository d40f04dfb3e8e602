"""Keeping a library up to date: scan its folders, then embed what is new or changed.

Scanning walks each root without recursion (a tree of any depth), follows symlinked folders
once (loops end) and opens only regular files (a FIFO or a device would block a reader
forever). It detects each file's modality and records new and changed files; a file whose size
and modification time are unchanged is not read again. Nothing is lost to a missing drive: a
root that is missing or unreadable keeps its items, a file that is gone is marked missing
(offline, embedding kept), and a file that moved within the library keeps its embedding
under its new path (content hashes are the key). Failures that may pass (a file unreadable for
a while) are retried once the file reads again.

Embedding encodes the pending items whose files are online, modality by modality, and commits
each batch in one transaction (vectors durable first), so a process killed at any moment leaves
whole batches only and the next run resumes with the items still pending. A file's hash is
checked again after it was decoded: a file replaced between the scan and the encoder is never
stored under the old content's hash.

Moments come after: once every pending item has its whole-file vector (the library is
searchable), the long audio, video and IMU files are cut into windows and embedded one file at
a time (``embed_segments``), each file's windows committed in one transaction; a cancelled or
killed run resumes with the files not marked segmented yet. A file cut with another hop than the library's
(the hop changed) is cut again the same way, its old windows replaced in that transaction.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from engine.library import FAILED, PENDING, Item, Library, Outcome
from engine.library.files import display, hash_file, imported, under
from engine.modality import Modality
from engine.preprocess.detect import VIDEO_EXTENSIONS, detect_modality
from engine.preprocess.errors import PreprocessError, is_transient
from engine.preprocess.windows import SEGMENTED
from engine.progress import Cancelled, Progress, never

if TYPE_CHECKING:
    from engine.models.factory import LoadedModel
    from engine.models.identity import ModelRef
    from engine.search_index import SearchIndex

_UPSERT_BATCH = 500


@dataclass
class ScanReport:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    ignored: int = 0
    missing: int = 0
    warnings: list[str] = field(default_factory=list)

    def merge(self, other: ScanReport) -> None:
        for name in ("added", "changed", "removed", "unchanged", "ignored", "missing"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.warnings += other.warnings


@dataclass
class EmbedReport:
    embedded: int = 0
    failed: int = 0
    offline: int = 0
    changed: int = 0
    cancelled: bool = False
    warnings: list[str] = field(default_factory=list)  # rows an imported shard could not give
    segments: int = 0  # windows of long recordings embedded (moments)
    unsegmented: int = 0  # long recordings that could not be cut into windows
    model_seconds: float = 0.0  # the model's calls in this process (a cluster's are its workers')
    model_waited_seconds: float = 0.0  # the model idle, waiting for the next decoded input

    def add(self, other: EmbedReport) -> None:
        """Count ``other`` (a later pass) in; ``offline`` is what the last pass found offline."""
        self.embedded += other.embedded
        self.failed += other.failed
        self.changed += other.changed
        self.segments += other.segments
        self.unsegmented += other.unsegmented
        self.model_seconds += other.model_seconds
        self.model_waited_seconds += other.model_waited_seconds
        self.offline = other.offline
        self.cancelled = other.cancelled
        self.warnings += other.warnings


@dataclass
class _Walk:
    files: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # folders whose content is unknown this time
    mounts: list[str] = field(default_factory=list)  # folders on another device than their parent's


def walk(root: str, warnings: list[str], skip: Iterable[str] = ()) -> _Walk:
    """Every visible entry below ``root`` that is not a folder, without recursion. Symlinked folders are
    followed once (loops end); unreadable folders are reported and remembered; the folders in ``skip`` (the
    library's own, roots inside this one) are left out. Mount points met on the way are listed."""
    found = _Walk()
    seen: set[tuple[int, int]] = set()
    for folder in skip:
        try:
            info = os.stat(folder)
            seen.add((info.st_dev, info.st_ino))
        except OSError:
            pass
    stack: list[tuple[str, int | None]] = [(root, None)]
    while stack:
        folder, parent_device = stack.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            if info.st_dev != parent_device and os.path.ismount(folder):  # not a symlink to another drive
                found.mounts.append(folder)
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda e: e.name)
        except OSError as error:
            warnings.append(f"{display(folder)}: cannot read the folder ({error.strerror}); its items are kept")
            found.unreadable.append(folder)
            continue
        folders = []
        for entry in listed:
            if entry.name.startswith("."):
                continue
            try:
                is_folder = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_folder = False
            if is_folder:
                folders.append((entry.path, info.st_dev))
            else:
                found.files.append(entry.path)
        stack.extend(reversed(folders))
    return found


def scan(
    library: Library,
    root_path: str | Path | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled = never,
) -> ScanReport:
    """Bring the library's record of one root (or all roots) in line with the disk."""
    report = ScanReport()
    roots = [library.add_root(root_path)] if root_path is not None else library.roots()
    for root in roots:
        state = root.state
        if state != "online":
            report.warnings.append(
                f"{display(root.path)}: the folder is {state}; its items are kept (offline) until it is back"
            )
            continue
        _scan_root(library, root.id, root.path, report, progress, cancelled)
    return report


def _scan_root(library: Library, root_id: int, root: str, report: ScanReport, progress, cancelled) -> None:
    known = library.file_states(root_id)
    unmounted = [m for m in library.offline_folders() if under(m, [root])]
    for folder in unmounted:
        report.warnings.append(f"{display(folder)}: a drive that is not mounted now; its items are kept (offline)")
    inside = [r.path for r in library.roots() if r.path != root and under(r.path, [root])]  # they hold their files
    walked = walk(root, report.warnings, skip=[str(library.folder), *inside])
    library.record_mounts(root, walked.mounts)
    batch: list[tuple[str, Modality, int, float, str]] = []
    seen: set[str] = set()
    back, retry, added_hashes = [], [], set()
    total = len(walked.files)
    for done, path in enumerate(walked.files, start=1):
        if cancelled():
            break
        if progress and (done % 200 == 0 or done == total):
            progress("scan", done, total)
        try:
            info = os.stat(path)
        except OSError as error:  # a broken link, a symlink loop, or gone since the walk
            reason = "a symlink loop" if error.errno == 40 else error.strerror
            report.warnings.append(f"{display(path)}: skipped ({reason})")
            continue
        if not stat.S_ISREG(info.st_mode):
            report.ignored += 1
            report.warnings.append(f"{display(path)}: not a regular file (a FIFO, device or socket); not read")
            continue
        key = os.path.realpath(path) if os.path.islink(path) else path
        if key in seen:
            continue
        seen.add(key)
        previous = known.get(key)
        if (
            previous
            and previous.size == info.st_size
            and previous.mtime == info.st_mtime
            and not imported(previous.hash)
        ):
            report.unchanged += 1  # not read again: same size and time, same modality as recorded (and hashed here)
            if previous.missing:
                back.append(key)
            if previous.status == FAILED and is_transient(previous.error_kind):
                retry.append(key)
            continue
        modality = detect_modality(path)
        if modality is None:
            report.ignored += 1
            continue
        try:
            content_hash = hash_file(path)
        except OSError as error:
            report.warnings.append(f"{display(path)}: cannot read ({error.strerror or error})")
            continue
        batch.append((key, modality, info.st_size, info.st_mtime, content_hash))
        added_hashes.add(content_hash)
        if previous:
            report.changed += 1
        else:
            report.added += 1
        if len(batch) >= _UPSERT_BATCH:
            library.upsert_files(root_id, batch)
            batch = []
    if batch:
        library.upsert_files(root_id, batch)
    library.set_missing(back, False)
    library.retry(retry)
    if cancelled():
        return
    gone = [p for p in known if p not in seen and not under(p, walked.unreadable + unmounted)]
    moved = {p for p in gone if known[p].hash in added_hashes}  # the file is here under another name
    library.remove_paths(moved)
    newly_missing = [p for p in gone if p not in moved and not known[p].missing]
    library.set_missing(newly_missing, True)
    report.removed += len(moved)
    report.missing += len(newly_missing)


def online(library: Library, items: list[Item]) -> tuple[list[Item], int]:
    """The items whose file can be read now (texts always); and how many are offline. A file gone from a
    folder that is online is marked missing now, not at the next scan."""
    folders = library.offline_folders()
    ready, vanished, offline = [], [], 0
    for item in items:
        if item.path is None:
            ready.append(item)
        elif item.missing or under(item.path, folders):
            offline += 1
        elif os.path.exists(item.path):
            ready.append(item)
        else:
            vanished.append(item.path)
    if vanished and not library.read_only:
        library.set_missing(vanished, True)
    return ready, offline + len(vanished)


class BackendError(Exception):
    """A backend cannot do the job (a cluster unreachable, no model on its workers...); the message says why."""


class Backend(Protocol):
    """Where pending items are embedded and recorded: in this process (``InProcess``) or on a Ray cluster
    (``engine.cluster.RayBackend``). ``embed_pending`` is the loop both share."""

    def embed(
        self, library: Library, items: list[Item], progress: Progress | None, cancelled: Cancelled, index: SearchIndex
    ) -> EmbedReport:
        """Embed ``items`` (offline ones counted, not read), record each result in ``library`` as it lands and keep
        ``index`` current; a bad file is a failure on its item, never a stop."""

    def embed_segments(
        self, library: Library, items: list[Item], progress: Progress | None, cancelled: Cancelled, index: SearchIndex
    ) -> EmbedReport:
        """Embed and record the windows of the long recordings ``items`` (see ``embed_segments``)."""


@dataclass
class InProcess:
    """Embedding here, with the model loaded in this process."""

    model: LoadedModel
    ref: ModelRef
    batch_size: int | None = None
    reduced_jpeg: bool = False

    def embed(
        self, library: Library, items: list[Item], progress: Progress | None, cancelled: Cancelled, index: SearchIndex
    ) -> EmbedReport:
        return embed_items(
            library, self.model, self.ref, items, progress, cancelled, self.batch_size, index, self.reduced_jpeg
        )

    def embed_segments(
        self, library: Library, items: list[Item], progress: Progress | None, cancelled: Cancelled, index: SearchIndex
    ) -> EmbedReport:
        return embed_segments(library, self.model, items, progress, cancelled, self.batch_size, index)


def embed_pending(
    library: Library,
    backend: Backend,
    progress: Progress | None = None,
    cancelled: Cancelled = never,
    index: SearchIndex | None = None,
    segment_index: SearchIndex | None = None,
) -> EmbedReport:
    """Embed every pending item of the library's model with ``backend``, again while files changed under it left
    new content pending (each content is tried once per run); then, given a ``segment_index`` (moments on), the
    windows of the long recordings not cut yet."""
    total = EmbedReport()
    attempted: set[tuple[int, str]] = set()
    while not cancelled():
        pending = [i for i in library.items(status=PENDING) if (i.id, i.hash) not in attempted]
        if not pending:
            break
        attempted.update((i.id, i.hash) for i in pending)
        report = backend.embed(library, pending, progress, cancelled, index)
        total.add(report)
        if not report.changed:
            break
    if segment_index is not None and not cancelled():
        todo = library.unsegmented(segment_index.key, SEGMENTED, sorted(VIDEO_EXTENSIONS))
        if todo:
            offline = total.offline  # the items' count: the moments pass counts only the long files it could not read
            total.add(backend.embed_segments(library, todo, progress, cancelled, segment_index))
            total.offline = offline
    total.cancelled = cancelled()
    return total


def embed_segments(
    library: Library,
    model: LoadedModel,
    items: list[Item],
    progress: Progress | None = None,
    cancelled: Cancelled = never,
    batch_size: int | None = None,
    index: SearchIndex | None = None,
) -> EmbedReport:
    """Cut each long recording of ``items`` into windows and embed them (``Encoder.encode_segments``), committing
    one file's windows at a time under ``index``'s model and keeping it current. A file that cannot be cut is
    recorded as such (not tried again unless the failure may pass) and the next one goes on; a window that fails
    is counted with its file."""
    from engine.encoder import Encoder

    report = EmbedReport()
    items, report.offline = online(library, items)
    encoder = Encoder(model, batch_size=batch_size)
    dim = index.store.dim
    hop = library.moments_hop
    for number, item in enumerate(items, start=1):
        if cancelled():
            break
        phase = f"moments {number}/{len(items)}"
        try:
            result = encoder.encode_segments(
                item.modality,
                item.path,
                progress=(lambda _windows, done, total, phase=phase: progress(phase, done, total))
                if progress
                else None,
                cancelled=cancelled,
                hop_fraction=hop,
            )
        except PreprocessError as error:
            report.unsegmented += 1
            report.warnings.append(f"{display(item.path)}: no moments ({error.kind}: {error.reason})")
            if not error.transient:
                library.record_segments(
                    index.key, item, [], np.zeros((0, dim), np.float32), [], error=str(error), hop=hop
                )
            continue
        if not result.complete:
            break
        if record_change(library, item):
            report.changed += 1
            continue
        segments = result.segments
        vectors = np.stack([s.vector for s in segments]) if segments else np.zeros((0, dim), np.float32)
        spans = [(s.start, s.end) for s in segments]
        report.segments += library.record_segments(
            index.key, item, spans, vectors, [s.scale for s in segments], failed=len(result.failed), hop=hop
        )
        if result.failed:
            start, end, error = result.failed[0]
            report.warnings.append(
                f"{display(item.path)}: {len(result.failed)} window(s) not embedded (first {start:g}-{end:g} s: {error})"
            )
        index.maintain()
    index.maintain(final=True)
    report.model_seconds, report.model_waited_seconds = encoder.model_seconds, encoder.waited_seconds
    report.cancelled = cancelled()
    return report


def embed_items(
    library: Library,
    model: LoadedModel,
    ref: ModelRef,
    items: list[Item],
    progress: Progress | None = None,
    cancelled: Cancelled = never,
    batch_size: int | None = None,
    index: SearchIndex | None = None,
    reduced_jpeg: bool = False,
) -> EmbedReport:
    """Encode ``items`` with ``model`` (known to the library as ``ref``), committing each batch as it lands
    and keeping ``index`` current. Texts are encoded, files decoded in parallel; a bad file is a failure on
    its item, never a stop. ``reduced_jpeg`` decodes JPEG pictures at a reduced size (recorded with the
    runtime in the library's ``vectors_made_by``)."""
    from engine.encoder import Encoder

    report = EmbedReport()
    items, report.offline = online(library, items)
    encoder = Encoder(model, batch_size=batch_size, reduced_jpeg=reduced_jpeg)
    if items:
        made_by = model.vectors_made_by() + ("; JPEG pictures decoded at a reduced size" if reduced_jpeg else "")
        library.set_meta("vectors_made_by", made_by)
    total, done = len(items), 0
    for group, results in _encoded_groups(encoder, items, cancelled):
        chunk: list[Outcome] = []
        for result in results:
            chunk.append(_outcome(library, group[result.index], result, report))
            if len(chunk) >= encoder.batch_size:
                done += _commit(library, ref, chunk, index)
                chunk = []
                if progress:
                    progress("embed", done, total)
        if chunk:
            done += _commit(library, ref, chunk, index)
            if progress:
                progress("embed", done, total)
        if cancelled():
            break
    if index is not None:
        index.maintain(final=True)
    report.model_seconds, report.model_waited_seconds = encoder.model_seconds, encoder.waited_seconds
    report.cancelled = cancelled()
    return report


def _encoded_groups(encoder, items: list[Item], cancelled) -> Iterator[tuple[list[Item], Iterator]]:
    by_modality: dict[Modality, list[Item]] = {}
    for item in items:
        by_modality.setdefault(item.modality, []).append(item)
    for modality, group in by_modality.items():
        if cancelled():
            return
        texts = [i for i in group if i.path is None]
        files = [i for i in group if i.path is not None]
        if texts:
            yield texts, iter(encoder.encode_texts([i.text for i in texts]))
        if files:
            yield files, encoder.iter_files(modality, [i.path for i in files], cancelled=cancelled)


def _outcome(library: Library, item: Item, result, report: EmbedReport) -> Outcome | None:
    """What to record for one result; None when the file changed or went offline while it was read."""
    if result.ok:
        if item.path is not None and record_change(library, item):
            report.changed += 1
            return None
        report.embedded += 1
        return Outcome(item, result.embedding, result.scale)
    if type(result.error).transient and item.path is not None and not os.path.exists(item.path):
        library.set_missing([item.path], True)  # gone while it was read: offline, not failed
        report.offline += 1
        return None
    report.failed += 1
    return Outcome(item, error_kind=result.error.kind, error=result.error.reason)


def record_change(library: Library, item: Item) -> bool:
    """Hash the file again after decoding; True when its content is not the scanned content (or it cannot be read):
    the new content is recorded (pending) instead of a vector stored under the old hash."""
    try:
        content_hash = hash_file(item.path)
        info = os.stat(item.path)
    except OSError:
        return True
    if content_hash == item.hash:
        return False
    library.upsert_files(item.root_id, [(item.path, item.modality, info.st_size, info.st_mtime, content_hash)])
    return True


def _commit(library: Library, ref: ModelRef, chunk: list[Outcome | None], index: SearchIndex | None) -> int:
    outcomes = [o for o in chunk if o is not None]
    if outcomes:
        library.record_results(ref, outcomes)
        if index is not None:
            index.maintain()
    return len(chunk)
