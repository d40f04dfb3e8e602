"""Binding a modality to the frozen image encoder on a user's (image, X) pairs: the whole ``train-bind`` flow.

Reads the pairs CSV, decodes every pair with the inference loaders (bad pairs are reported and
skipped), holds out a fair random tenth for evaluation, trains with the paper's recipe
(``trainer.Binder``: per-epoch checkpoints, a rerun resumes), evaluates zero-shot and retrieval
on the held-out pairs, and writes a self-describing safetensors file usable as ``--model``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.modality import Modality
from engine.models.factory import load_model
from engine.models.weights import save_safetensors
from engine.models.zoo import metadata_for
from engine.preprocess.errors import PreprocessError
from engine.prompts import ZERO_SHOT_TEMPLATES
from engine.train.evaluate import Report, evaluate
from engine.train.pairs import Pair, load_pairs, read_pairs
from engine.train.trainer import Binder, BindSettings


@dataclass
class BindRun:
    out: Path
    checkpoint: Path
    trained: int
    held_out: int
    skipped: list[tuple[Pair, PreprocessError]]
    report: Report | None


def bind(
    base: str,
    modality: Modality,
    pairs_csv: str | Path,
    out: str | Path,
    settings: BindSettings,
    *,
    val_fraction: float = 0.1,
    checkpoint: str | Path | None = None,
    device: str = "auto",
    log: Callable[[str], None] = lambda line: None,
) -> BindRun:
    """Train ``modality``'s encoder of the model ``base`` against its frozen image encoder; ``KeyboardInterrupt``
    leaves the last epoch's checkpoint, from which the same call resumes."""
    if modality is Modality.VISION:
        raise ValueError("images are the anchor; choose the modality to bind to them")
    model = load_model(base, device=device, precision="float32")
    pairs = load_pairs(read_pairs(pairs_csv, modality), modality, model.spec)
    for pair, error in pairs.failures:
        log(f"skipped pair {pair.image} / {pair.other}: {error}")
    count = len(pairs)
    held = max(1, int(count * val_fraction)) if count > 4 else 0
    order = torch.randperm(count, generator=torch.Generator().manual_seed(settings.seed)).tolist()
    train = pairs.subset(order[: count - held])
    val = pairs.subset(order[count - held :]) if held else None
    settings.batch_size = min(settings.batch_size, len(train))
    checkpoint = Path(checkpoint or Path(out).with_suffix(".checkpoint.pt"))
    binder = Binder(model.network, modality, train, settings, runtime=model.runtime, checkpoint=checkpoint)
    log(
        f"binding {modality.value} to images: {len(train)} training pairs, {held} held out, {settings.epochs} epochs "
        f"on {model.runtime.describe()} (checkpoint {checkpoint})"
    )
    binder.fit(on_epoch=lambda epoch, epochs, loss: log(f"epoch {epoch}/{epochs}  loss {loss:.4f}"))
    labels = sorted({label for label in (val.labels if val else []) if label})
    report = evaluate(model.network, {modality: val}, labels, ZERO_SHOT_TEMPLATES, model.spec) if val else None
    written = save_safetensors(model.network, out, metadata_for(model.entry.config, model.spec))
    return BindRun(written, checkpoint, len(train), held, pairs.failures, report)
