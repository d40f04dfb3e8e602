"""Emergent zero-shot classification and cross-modal retrieval, reported like the paper's Table 2.

Zero-shot: a modality's embedding against text prompts of every class (templates averaged per
class), top-1 accuracy; for audio, depth, thermal and IMU this transfer is emergent, since
they never saw text in training. Retrieval: each item of a modality queries the held-out
images. With labels, recall@k counts a query as found when a photo of its class is among the
k nearest (the demo world's sounds share only their concept with their photo, so that is what
retrieval can find); "pair R@5" counts only the query's own paired photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from engine.modality import Modality
from engine.models.imagebind import ImageBindModel
from engine.preprocess.spec import PreprocessSpec
from engine.preprocess.text import tokenize
from engine.train.pairs import PairSet


@torch.no_grad()
def embed(model: ImageBindModel, modality: Modality, tensors: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """Normalised embeddings of a stack of preprocessed inputs (eval mode, CPU float32 out)."""
    model.eval()
    device = next(model.parameters()).device
    chunks = [
        model.encode(modality, tensors[i : i + batch_size].to(device)).float().cpu()
        for i in range(0, len(tensors), batch_size)
    ]
    return F.normalize(torch.cat(chunks), dim=-1)


@torch.no_grad()
def class_embeddings(
    model: ImageBindModel, classes: list[str], templates: tuple[str, ...], spec: PreprocessSpec
) -> torch.Tensor:
    """One normalised text embedding per class: the mean of its prompts' embeddings."""
    prompts = [t.format(c) for c in classes for t in templates]
    texts = embed(model, Modality.TEXT, tokenize(prompts, spec)).view(len(classes), len(templates), -1)
    return F.normalize(texts.mean(dim=1), dim=-1)


def top1(embeddings: torch.Tensor, labels: list[str], classes: list[str], class_vectors: torch.Tensor) -> float:
    predicted = (embeddings @ class_vectors.T).argmax(dim=1)
    truth = torch.tensor([classes.index(label) for label in labels])
    return float((predicted == truth).float().mean())


def recall_at(queries: torch.Tensor, targets: torch.Tensor, k: int, labels: list[str] | None = None) -> float:
    """Fraction of queries with a match among their k nearest targets: the same label, or without labels the same index."""
    ranks = (queries @ targets.T).argsort(dim=1, descending=True)[:, :k]
    if labels is None:
        return float((ranks == torch.arange(len(queries))[:, None]).any(dim=1).float().mean())
    codes = torch.tensor([sorted(set(labels)).index(label) for label in labels])
    return float((codes[ranks] == codes[:, None]).any(dim=1).float().mean())


@dataclass
class Row:
    modality: str
    zero_shot_top1: float | None
    recall_at_1: float | None  # class-level when labelled
    recall_at_5: float | None
    pair_recall_at_5: float | None  # the query's own paired photo
    items: int


@dataclass
class Report:
    classes: list[str]
    rows: list[Row] = field(default_factory=list)

    def row(self, modality: str) -> Row:
        return next(r for r in self.rows if r.modality == modality)

    def table(self) -> str:
        def cell(value: float | None) -> str:
            return "—" if value is None else f"{100 * value:.1f}"

        lines = [
            f"| modality | zero-shot top-1 ({len(self.classes)} classes) | X→image R@1 | X→image R@5 | pair R@5 | items |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in self.rows:
            cells = (r.zero_shot_top1, r.recall_at_1, r.recall_at_5, r.pair_recall_at_5)
            lines.append(f"| {r.modality} | {' | '.join(cell(c) for c in cells)} | {r.items} |")
        return "\n".join(lines)


def evaluate(
    model: ImageBindModel,
    heldout: dict[Modality, PairSet],
    classes: list[str],
    templates: tuple[str, ...],
    spec: PreprocessSpec,
) -> Report:
    """Zero-shot and retrieval for each held-out pair set; a TEXT set gives the image row (photos against prompts)."""
    report = Report(list(classes))
    class_vectors = class_embeddings(model, report.classes, templates, spec) if classes else None

    def zero_shot(embeddings: torch.Tensor, labels: list[str | None]) -> float | None:
        return (
            top1(embeddings, labels, report.classes, class_vectors)
            if class_vectors is not None and all(labels)
            else None
        )

    if Modality.TEXT in heldout:
        photos = heldout[Modality.TEXT]
        photo_top1 = zero_shot(embed(model, Modality.VISION, photos.images), photos.labels)
        report.rows.append(Row("image", photo_top1, None, None, None, len(photos)))
    for modality, pairs in heldout.items():
        if modality is Modality.TEXT:
            continue
        others = embed(model, modality, pairs.others)
        anchors = embed(model, Modality.VISION, pairs.images)
        labels = pairs.labels if all(pairs.labels) else None
        report.rows.append(
            Row(
                modality.value,
                zero_shot(others, pairs.labels),
                recall_at(others, anchors, 1, labels),
                recall_at(others, anchors, 5, labels),
                recall_at(others, anchors, 5),
                len(pairs),
            )
        )
    return report
