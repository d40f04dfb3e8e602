"""Paired observations for binding: (image, X) rows from a CSV, decoded once into tensors.

A pairs CSV has a header with ``image`` and a column named after the other modality
(``audio``, ``depth``, ``thermal``, ``imu``, or ``text`` for captions; ``other`` works too),
plus an optional ``label``. Relative paths are relative to the CSV's folder. A row whose
file cannot be loaded is reported and left out; it never stops the run.
"""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from engine.modality import Modality
from engine.preprocess import PreprocessError, prepare_loader
from engine.preprocess.files import check_file
from engine.preprocess.safe import load_safely
from engine.preprocess.spec import PreprocessSpec


class PairsError(Exception):
    """A pairs file that cannot be used at all (missing, no header, no usable column)."""


@dataclass(frozen=True)
class Pair:
    image: str
    other: str
    label: str | None = None


@dataclass
class PairSet:
    """Decoded pairs: ``images[i]`` goes with ``others[i]``; ``failures`` lists the rows left out and why."""

    modality: Modality
    images: torch.Tensor
    others: torch.Tensor
    labels: list[str | None]
    pairs: list[Pair]
    failures: list[tuple[Pair, PreprocessError]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pairs)

    def subset(self, indices: list[int]) -> PairSet:
        return PairSet(
            self.modality,
            self.images[indices],
            self.others[indices],
            [self.labels[i] for i in indices],
            [self.pairs[i] for i in indices],
        )


def read_pairs(path: str | Path, modality: Modality) -> list[Pair]:
    path = Path(path)
    try:  # the check every loader starts with: a FIFO or device is refused, never opened (it would block)
        check_file(path)
    except PreprocessError as error:
        raise PairsError(f"{path}: cannot read the pairs file ({error.reason})") from None
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PairsError(f"{path}: cannot read the pairs file ({error})") from None
    if not rows:
        raise PairsError(f"{path}: no pairs (expected a header and at least one row)")
    columns = {name.strip().lower(): name for name in rows[0] if name}
    other = next((columns[c] for c in (modality.value, "other") if c in columns), None)
    if "image" not in columns or other is None:
        raise PairsError(
            f"{path}: the header needs an 'image' column and a '{modality.value}' (or 'other') column; found {', '.join(columns)}"
        )
    label = columns.get("label")
    base = path.parent

    def resolve(value: str) -> str:
        candidate = Path(value.strip()).expanduser()
        return str(candidate if candidate.is_absolute() else base / candidate)

    return [
        Pair(
            resolve(row[columns["image"]]), resolve(row[other]), ((row[label] or "").strip() or None) if label else None
        )
        for row in rows
        if row.get(columns["image"]) and row.get(other)
    ]


def load_pairs(pairs: list[Pair], modality: Modality, spec: PreprocessSpec, workers: int = 4) -> PairSet:
    """Decode every pair in parallel with the inference loaders; failed rows are kept aside with their errors."""
    load_image = prepare_loader(Modality.VISION)  # imported here: imports racing in the pool's threads fail
    load_other = prepare_loader(modality)
    with ThreadPoolExecutor(workers, thread_name_prefix="bindscope-pairs") as pool:
        images = list(pool.map(lambda p: load_safely(lambda s: load_image(s, spec), p.image), pairs))
        others = list(pool.map(lambda p: load_safely(lambda s: load_other(s, spec), p.other), pairs))
    kept, failures = [], []
    for index, (pair, image, other) in enumerate(zip(pairs, images, others, strict=True)):
        error = image if isinstance(image, PreprocessError) else other if isinstance(other, PreprocessError) else None
        if error is None:
            kept.append(index)
        else:
            failures.append((pair, error))
    if not kept:
        raise PairsError(
            f"none of the {len(pairs)} pairs could be loaded; first error: {failures[0][1] if failures else 'no pairs'}"
        )
    return PairSet(
        modality,
        torch.stack([images[i] for i in kept]),
        torch.stack([others[i] for i in kept]),
        [pairs[i].label for i in kept],
        [pairs[i] for i in kept],
        failures,
    )
