"""The paper's binding recipe: symmetric InfoNCE between a frozen anchor (images) and one modality.

``Binder(network, Modality.AUDIO, pairs)`` trains only the audio encoder (tokenizer, trunk, head)
so that its embeddings land next to the paired images'; every other weight is frozen. The
temperature is fixed per modality (the paper found fixed beats learned): 1 / the model's
logit scale, so 0.05 for audio, 0.2 for depth and IMU, 0.1 for thermal.

``Binder(network, Modality.TEXT, pairs)`` is stage 1 of the demo: image and text encoders
trained together, CLIP-style, with CLIP's learned temperature (the text logit scale). In the
real model this stage is OpenCLIP, frozen.

Checkpoints are written each epoch (trainable weights, optimiser, schedule, epoch) and a run
resumes from the last one; batches, augmentations, dropout and drop-path are drawn from
generators seeded by (seed, epoch), so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.modality import Modality
from engine.models.imagebind import ImageBindModel
from engine.models.runtime import Runtime, choose_runtime
from engine.train.augment import augment_audio, augment_imu, crop_and_flip, jitter_photo
from engine.train.pairs import PairSet

EpochReport = Callable[[int, int, float], None]  # (epoch, epochs, mean loss)


@dataclass
class BindSettings:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    seed: int = 0
    temperature: float | None = None  # default: 1 / the modality's logit scale


def info_nce(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor | float) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of normalised pairs: each a[i] must pick b[i], and back."""
    logits = logit_scale * a @ b.T
    target = torch.arange(a.shape[0], device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def trainable_modules(model: ImageBindModel, modality: Modality) -> list[nn.Module]:
    keys = [Modality.VISION.value, Modality.TEXT.value] if modality is Modality.TEXT else [modality.value]
    modules = []
    for key in keys:
        modules += [model.modality_preprocessors[key], model.modality_trunks[key], model.modality_heads[key]]
    if modality is Modality.TEXT:
        modules.append(model.modality_postprocessors[Modality.TEXT.value])
    return modules


class Binder:
    def __init__(
        self,
        network: ImageBindModel,
        modality: Modality,
        data: PairSet,
        settings: BindSettings | None = None,
        *,
        runtime: Runtime | None = None,
        checkpoint: str | Path | None = None,
    ):
        if modality is Modality.VISION:
            raise ValueError("images are the anchor; bind another modality to them")
        self.network, self.modality, self.data = network, modality, data
        self.settings = settings or BindSettings()
        self.runtime = runtime or choose_runtime("auto", "float32")
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.network.to(self.runtime.device)
        self.modules = trainable_modules(network, modality)
        for parameter in network.parameters():
            parameter.requires_grad_(False)
        self.parameters = [p for m in self.modules for p in m.parameters()]
        for parameter in self.parameters:
            parameter.requires_grad_(True)
        decay = [p for p in self.parameters if p.ndim >= 2]
        no_decay = [p for p in self.parameters if p.ndim < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.settings.lr,
        )
        self.steps_per_epoch = max(1, len(data) // self.settings.batch_size)
        total = self.steps_per_epoch * self.settings.epochs
        warmup = max(1, int(total * self.settings.warmup_fraction))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0))),
        )
        self.epoch = 0
        self._anchor_cache: torch.Tensor | None = None

    @property
    def logit_scale(self) -> torch.Tensor | float:
        if self.modality is Modality.TEXT:
            return self.network.modality_postprocessors[Modality.TEXT.value][1].scale
        if self.settings.temperature:
            return 1.0 / self.settings.temperature
        return self.network.logit_scale(self.modality)

    def fit(self, on_epoch: EpochReport | None = None, cancelled: Callable[[], bool] = lambda: False) -> list[float]:
        """Train the remaining epochs (all, or those after the checkpoint); returns each epoch's mean loss."""
        self._resume()
        history = []
        while self.epoch < self.settings.epochs and not cancelled():
            loss = self._train_epoch(cancelled)
            self.epoch += 1
            history.append(loss)
            self._save()
            if on_epoch:
                on_epoch(self.epoch, self.settings.epochs, loss)
        self.network.eval()
        for parameter in self.network.parameters():
            parameter.requires_grad_(False)
        return history

    def _train_epoch(self, cancelled: Callable[[], bool]) -> float:
        seed = self.settings.seed * 1_000_003 + self.epoch
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)  # dropout and drop-path draw from the global generator
        order = torch.randperm(len(self.data), generator=g)
        self.network.eval()
        for module in self.modules:
            module.train()
        total, steps = 0.0, 0
        for step in range(self.steps_per_epoch):
            if cancelled():
                break
            index = order[step * self.settings.batch_size : (step + 1) * self.settings.batch_size]
            with self.runtime.autocast():
                anchor, other = self._embed_batch(index, g)
                loss = info_nce(anchor, other, self.logit_scale)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.parameters, 1.0)
            self.optimizer.step()
            self.scheduler.step()
            total += float(loss.detach())
            steps += 1
        return total / max(steps, 1)

    def _embed_batch(self, index: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.runtime.device
        images, others = self.data.images[index], self.data.others[index]
        m = self.modality
        if m is Modality.TEXT:
            images = jitter_photo(crop_and_flip(images, g=g)[0], g)
            anchor = self.network.encode(Modality.VISION, images.to(device))
            return F.normalize(anchor, dim=-1), F.normalize(self.network.encode(m, others.to(device)), dim=-1)
        if m in (Modality.DEPTH, Modality.THERMAL):
            images, others = crop_and_flip(images, others, g=g)
            with torch.no_grad():
                anchor = F.normalize(
                    self.network.encode(Modality.VISION, jitter_photo(images, g, 0.1).to(device)), dim=-1
                )
            others = others + torch.randn(others.shape, generator=g) * 0.05
        else:
            anchor = self._anchors()[index].to(device)
            others = augment_audio(others, g) if m is Modality.AUDIO else augment_imu(others, g)
        return anchor, F.normalize(self.network.encode(m, others.to(device)), dim=-1)

    @torch.no_grad()
    def evaluation_loss(self, data: PairSet | None = None) -> float:
        """InfoNCE over a whole pair set in eval mode, without augmentation (inference inputs: all clips)."""
        data = data or self.data
        self.network.eval()
        device = self.runtime.device
        with self.runtime.autocast():
            anchors = F.normalize(self.network.encode(Modality.VISION, data.images.to(device)).float(), dim=-1)
            others = F.normalize(self.network.encode(self.modality, data.others.to(device)).float(), dim=-1)
            return float(info_nce(anchors, others, self.logit_scale))

    @torch.no_grad()
    def _anchors(self) -> torch.Tensor:
        """Frozen image embeddings of every pair, computed once (audio and IMU need no aligned crops)."""
        if self._anchor_cache is None:
            chunks = []
            for start in range(0, len(self.data), 256):
                batch = self.data.images[start : start + 256].to(self.runtime.device)
                with self.runtime.autocast():
                    chunks.append(F.normalize(self.network.encode(Modality.VISION, batch).float(), dim=-1).cpu())
            self._anchor_cache = torch.cat(chunks)
        return self._anchor_cache

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        names = {id(p): n for n, p in self.network.named_parameters()}
        return {names[id(p)]: p.detach().cpu() for p in self.parameters}

    def _save(self) -> None:
        if self.checkpoint is None:
            return
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.checkpoint.with_suffix(".tmp")
        torch.save(
            {
                "epoch": self.epoch,
                "modality": self.modality.value,
                "settings": asdict(self.settings),
                "weights": self._trainable_state(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
            },
            temporary,
        )
        temporary.replace(self.checkpoint)

    def _resume(self) -> None:
        if self.checkpoint is None or not self.checkpoint.is_file() or self.epoch:
            return
        state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        if state["modality"] != self.modality.value:
            raise ValueError(f"{self.checkpoint}: a checkpoint for {state['modality']}, not {self.modality.value}")
        self.network.load_state_dict(state["weights"], strict=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
