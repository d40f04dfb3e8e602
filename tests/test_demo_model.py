"""The shipped demo model reaches its targets on held-out demo scenes it never saw."""

from __future__ import annotations

import csv

import pytest

from engine.demo.concepts import CONCEPT_NAMES
from engine.demo.world import generate
from engine.modality import Modality
from engine.models.factory import load_model
from engine.models.zoo import DEMO, default_entry
from engine.prompts import ZERO_SHOT_TEMPLATES
from engine.train.evaluate import evaluate
from engine.train.pairs import load_pairs, read_pairs

FIRST_UNSEEN = 5000  # far beyond the scenes the recipe trains and evaluates on


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    assert DEMO.available, f"the demo model must ship at {DEMO.weights_path}"
    model = load_model("demo", device="cpu")
    folder = tmp_path_factory.mktemp("heldout")
    observations = generate(folder, per_concept=8, seed=0, first=FIRST_UNSEEN)
    heldout = {}
    for modality in (Modality.TEXT, Modality.AUDIO, Modality.DEPTH, Modality.THERMAL, Modality.IMU):
        path = folder / f"{modality.value}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["image", modality.value, "label"])
            writer.writerows([o.files["vision"], o.files[modality.value], o.concept] for o in observations)
        heldout[modality] = load_pairs(read_pairs(path, modality), modality, model.spec)
    return evaluate(model.network, heldout, list(CONCEPT_NAMES), ZERO_SHOT_TEMPLATES, model.spec)


def test_image_text_zero_shot(report):
    assert report.row("image").zero_shot_top1 >= 0.95, report.table()


@pytest.mark.parametrize("modality", ["audio", "depth", "thermal", "imu"])
def test_emergent_zero_shot(report, modality):
    assert report.row(modality).zero_shot_top1 >= 0.80, report.table()


def test_audio_to_image_retrieval(report):
    assert report.row("audio").recall_at_5 >= 0.80, report.table()


def test_demo_is_the_default_without_a_download(monkeypatch, tmp_path):
    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path))  # no ImageBind-huge here
    assert default_entry().name == "demo"
