"""Keeping a library up to date: scan its folders, then embed what is new or changed.

Scanning walks each root (following symlinked folders once, so loops end), detects the
modality of each file, and records new, changed and removed files; a file whose size and
modification time are unchanged is not read again. Embedding runs the encoder over the
pending items, modality by modality, and commits each batch in one transaction, so a
process killed at any moment leaves whole batches only and the next run resumes with the
items still pending.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.encoder import Encoder
from engine.library import PENDING, Library, hash_file
from engine.modality import Modality
from engine.models.factory import LoadedModel
from engine.preprocess.detect import detect_modality

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class ScanReport:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    ignored: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class EmbedReport:
    embedded: int = 0
    failed: int = 0
    cancelled: bool = False


def walk(root: Path, warnings: list[str], skip: Path | None = None) -> list[Path]:
    """Every visible file below ``root``; symlinked folders are followed once (loops end), unreadable ones
    reported, and ``skip`` (the library's own folder, when it sits inside a root) left out."""
    seen_dirs: set[tuple[int, int]] = set()
    if skip is not None and skip.is_dir():
        info = skip.stat()
        seen_dirs.add((info.st_dev, info.st_ino))
    files: list[Path] = []

    def on_error(error: OSError) -> None:
        warnings.append(f"{error.filename}: cannot read ({error.strerror})")

    for folder, dirs, names in os.walk(root, onerror=on_error, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError:
            dirs[:] = []
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:
            dirs[:] = []
            continue
        seen_dirs.add(key)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(folder) / n for n in sorted(names) if not n.startswith("."))
    return files


def scan(
    library: Library,
    root_path: str | Path | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> ScanReport:
    """Bring the library's record of one root (or all roots) in line with the disk."""
    report = ScanReport()
    roots = [library.add_root(root_path)] if root_path is not None else library.roots()
    for root in roots:
        base = Path(root.path)
        if not base.is_dir():
            report.warnings.append(f"{base}: the folder is missing; its items are kept until it is back or removed")
            continue
        known = library.file_states(root.id)
        paths = walk(base, report.warnings, skip=library.folder)
        batch: list[tuple[str, Modality, int, float, str]] = []
        seen: set[str] = set()
        for done, path in enumerate(paths, start=1):
            if cancelled():
                break
            if progress and (done % 200 == 0 or done == len(paths)):
                progress("scan", done, len(paths))
            key = str(path.resolve()) if path.is_symlink() else str(path)
            if key in seen:
                continue
            seen.add(key)
            try:
                info = path.stat()
            except OSError:  # vanished or broken link between the walk and now
                continue
            previous = known.get(key)
            if previous and previous[0] == info.st_size and previous[1] == info.st_mtime:
                report.unchanged += 1  # not read again: same size and time, same modality as recorded
                continue
            modality = detect_modality(path)
            if modality is None:
                report.ignored += 1
                continue
            try:
                content_hash = hash_file(path)
            except OSError as error:
                report.warnings.append(f"{path}: cannot read ({error.strerror})")
                continue
            batch.append((key, modality, info.st_size, info.st_mtime, content_hash))
            if previous:
                report.changed += 1
            else:
                report.added += 1
            if len(batch) >= 500:
                library.upsert_files(root.id, batch)
                batch = []
        if batch:
            library.upsert_files(root.id, batch)
        if not cancelled():
            gone = [p for p in known if p not in seen]
            library.remove_paths(gone)
            report.removed += len(gone)
    return report


def embed_pending(
    library: Library,
    model: LoadedModel,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    batch_size: int | None = None,
) -> EmbedReport:
    """Encode every pending item with ``model``, committing each batch as it finishes."""
    if library.model != model.name:
        library.set_model(model.name)
    report = EmbedReport()
    encoder = Encoder(model, batch_size=batch_size)
    pending = library.items(status=PENDING)
    total, done = len(pending), 0
    by_modality: dict[Modality, list] = {}
    for item in pending:
        by_modality.setdefault(item.modality, []).append(item)
    for modality, items in by_modality.items():
        if cancelled():
            break
        files = [i for i in items if i.path is not None]
        texts = [i for i in items if i.path is None]
        outcomes = []
        if texts:
            outcomes.append((texts, iter(encoder.encode_texts([i.text for i in texts]))))
        if files:
            outcomes.append((files, encoder.iter_files(modality, [i.path for i in files], cancelled=cancelled)))
        for group, results in outcomes:
            chunk = []
            for result in results:
                item = group[result.index]
                if result.ok:
                    chunk.append((item, result.embedding, result.scale, None, None))
                    report.embedded += 1
                else:
                    chunk.append((item, None, None, result.error.kind, result.error.reason))
                    report.failed += 1
                if len(chunk) >= encoder.batch_size:
                    library.record_results(model.name, chunk)
                    done += len(chunk)
                    chunk = []
                    if progress:
                        progress("embed", done, total)
            if chunk:
                library.record_results(model.name, chunk)
                done += len(chunk)
                if progress:
                    progress("embed", done, total)
    report.cancelled = cancelled()
    return report
