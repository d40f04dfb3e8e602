"""How the shipped demo model is made: the paper's two-stage recipe on the demo world.

Stage 1 trains a small image and text encoder together on (photo, caption) pairs; stage 2
freezes them and binds audio, depth, thermal and IMU to the photos alone, each on
(photo, X) pairs, so their link to text is emergent. Everything goes through the same files,
loaders and trainer a user's ``train-bind`` run uses.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.demo.concepts import CONCEPT_NAMES, ZERO_SHOT_TEMPLATES
from engine.demo.world import Observation, generate
from engine.modality import Modality
from engine.models.imagebind import ImageBindModel
from engine.models.runtime import choose_runtime
from engine.models.weights import save_safetensors
from engine.models.zoo import DEMO_CONFIG, DEMO_SPEC, metadata_for
from engine.train.evaluate import Report, evaluate
from engine.train.pairs import load_pairs, read_pairs
from engine.train.trainer import Binder, BindSettings

BOUND_MODALITIES = (Modality.AUDIO, Modality.DEPTH, Modality.THERMAL, Modality.IMU)


@dataclass
class RecipeSettings:
    seed: int = 0
    train_per_concept: int = 300
    heldout_per_concept: int = 20
    stage1: BindSettings = None
    stage2: BindSettings = None

    def __post_init__(self):
        self.stage1 = self.stage1 or BindSettings(
            epochs=45, batch_size=96, lr=1e-3, warmup_fraction=0.1, seed=self.seed
        )
        self.stage2 = self.stage2 or BindSettings(
            epochs=30, batch_size=96, lr=1e-3, warmup_fraction=0.1, seed=self.seed
        )


def write_pairs(world: Path, observations: list[Observation], modality: Modality, name: str) -> Path:
    """A pairs CSV (image, X, label) for one modality, as a user would write one."""
    path = world / f"pairs_{name}_{modality.value}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", modality.value, "label"])
        for o in observations:
            writer.writerow([o.files["vision"], o.files[modality.value], o.concept])
    return path


def train_demo_model(
    work: str | Path, out: str | Path, settings: RecipeSettings | None = None, log: Callable[[str], None] = print
) -> Report:
    """Generate the world under ``work``, train both stages, evaluate, and write the model to ``out``."""
    settings = settings or RecipeSettings()
    work, out = Path(work), Path(out)
    started = time.monotonic()
    world = work / "world"
    log(f"generating the demo world in {world}")
    train = generate(world, settings.train_per_concept, seed=settings.seed, split="train")
    heldout = generate(
        world, settings.heldout_per_concept, seed=settings.seed, first=settings.train_per_concept, split="heldout"
    )
    torch.manual_seed(settings.seed)
    model = ImageBindModel(DEMO_CONFIG)
    runtime = choose_runtime("auto", "float32")
    checkpoints = work / "checkpoints"

    stages = [(Modality.TEXT, settings.stage1)] + [(m, settings.stage2) for m in BOUND_MODALITIES]
    heldout_sets = {}
    for modality, stage in stages:
        pairs = load_pairs(read_pairs(write_pairs(world, train, modality, "train"), modality), modality, DEMO_SPEC)
        heldout_sets[modality] = load_pairs(
            read_pairs(write_pairs(world, heldout, modality, "heldout"), modality), modality, DEMO_SPEC
        )
        log(
            f"stage {'1' if modality is Modality.TEXT else '2'}: binding {modality.value} on {len(pairs)} pairs ({time.monotonic() - started:.0f} s)"
        )
        binder = Binder(model, modality, pairs, stage, runtime=runtime, checkpoint=checkpoints / f"{modality.value}.pt")
        binder.fit(on_epoch=lambda e, n, loss, m=modality: log(f"  {m.value} epoch {e}/{n} loss {loss:.3f}"))
    report = evaluate(model, heldout_sets, list(CONCEPT_NAMES), ZERO_SHOT_TEMPLATES, DEMO_SPEC)
    minutes = (time.monotonic() - started) / 60
    log(report.table())
    out.mkdir(parents=True, exist_ok=True)
    save_safetensors(model, out / "demo.safetensors", metadata_for(DEMO_CONFIG, DEMO_SPEC), dtype=torch.float16)
    (out / "demo_eval.json").write_text(
        json.dumps(
            {"minutes": round(minutes, 1), "seed": settings.seed, "rows": [r.__dict__ for r in report.rows]}, indent=2
        )
    )
    log(f"wrote {out / 'demo.safetensors'} after {minutes:.1f} min")
    return report
