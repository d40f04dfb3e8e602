"""The binding trainer: loss goes down, checkpoints resume exactly, pairs files are checked, train-bind runs."""

from __future__ import annotations

import csv

import pytest
import torch

from app.cli import main
from engine.demo.world import read_manifest
from engine.modality import Modality
from engine.models.imagebind import ImageBindModel
from engine.train.pairs import PairsError, load_pairs, read_pairs
from engine.train.trainer import Binder, BindSettings, info_nce
from tests.conftest import tiny_entry


def pairs_csv(world, modality: Modality, path) -> str:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", modality.value, "label"])
        for o in read_manifest(world / "manifest.csv"):
            writer.writerow([world / o.files["vision"], world / o.files[modality.value], o.concept])
    return path


def test_info_nce_prefers_aligned_pairs():
    a = torch.nn.functional.normalize(torch.randn(8, 4), dim=-1)
    assert info_nce(a, a, 10.0) < info_nce(a, a.roll(1, 0), 10.0)


@pytest.fixture(scope="module")
def stage_one(tmp_path_factory, world):
    """A tiny model whose image and text encoders had a short CLIP-style stage 1, as in the recipe."""
    entry = tiny_entry()
    torch.manual_seed(0)
    model = ImageBindModel(entry.config)
    path = pairs_csv(world, Modality.TEXT, tmp_path_factory.mktemp("pairs") / "p.csv")
    pairs = load_pairs(read_pairs(path, Modality.TEXT), Modality.TEXT, entry.spec)
    binder = Binder(model, Modality.TEXT, pairs, BindSettings(epochs=30, batch_size=12, lr=1e-3, warmup_fraction=0.0))
    before = binder.evaluation_loss()
    binder.fit()
    return model.state_dict(), before, binder.evaluation_loss()


def test_stage_one_reduces_the_image_text_loss(stage_one):
    _, before, after = stage_one
    assert after < before * 0.8, (before, after)


@pytest.mark.parametrize("modality", [Modality.AUDIO, Modality.DEPTH, Modality.THERMAL, Modality.IMU])
def test_binding_reduces_the_loss_and_moves_only_the_bound_encoder(tmp_path, world, stage_one, modality):
    entry = tiny_entry()
    model = ImageBindModel(entry.config)
    model.load_state_dict(stage_one[0])
    pairs = load_pairs(read_pairs(pairs_csv(world, modality, tmp_path / "p.csv"), modality), modality, entry.spec)
    frozen = {k: v.clone() for k, v in model.state_dict().items() if k.split(".")[1] != modality.value}
    binder = Binder(model, modality, pairs, BindSettings(epochs=80, batch_size=12, lr=1e-3, warmup_fraction=0.0))
    before = binder.evaluation_loss()
    binder.fit()
    assert binder.evaluation_loss() < before * 0.95
    for key, value in frozen.items():  # images, text and the other modalities are untouched
        assert torch.equal(model.state_dict()[key], value), key


def test_resume_continues_exactly(tmp_path, world):
    entry = tiny_entry()
    pairs = load_pairs(
        read_pairs(pairs_csv(world, Modality.IMU, tmp_path / "p.csv"), Modality.IMU), Modality.IMU, entry.spec
    )

    def fresh():
        torch.manual_seed(0)
        return ImageBindModel(entry.config)

    straight = fresh()
    Binder(straight, Modality.IMU, pairs, BindSettings(epochs=4, batch_size=6)).fit()
    interrupted = fresh()
    done: list[int] = []
    Binder(interrupted, Modality.IMU, pairs, BindSettings(epochs=4, batch_size=6), checkpoint=tmp_path / "c.pt").fit(
        on_epoch=lambda epoch, total, loss: done.append(epoch), cancelled=lambda: len(done) >= 2
    )
    assert done == [1, 2]
    resumed = fresh()
    history = Binder(
        resumed, Modality.IMU, pairs, BindSettings(epochs=4, batch_size=6), checkpoint=tmp_path / "c.pt"
    ).fit()
    assert len(history) == 2
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, msg=key)


def test_bad_pairs_files(tmp_path, world):
    (tmp_path / "none.csv").write_text("image,label\nx.png,dog\n")
    with pytest.raises(PairsError, match="needs an 'image' column and a 'audio'"):
        read_pairs(tmp_path / "none.csv", Modality.AUDIO)
    path = pairs_csv(world, Modality.AUDIO, tmp_path / "p.csv")
    with open(path, "a") as handle:
        handle.write(f"{world / 'images' / 'missing.png'},{world / 'audio' / 'gone.wav'},dog\n")
    pairs = load_pairs(read_pairs(path, Modality.AUDIO), Modality.AUDIO, tiny_entry().spec)
    assert len(pairs) == 12 and len(pairs.failures) == 1 and "missing.png" in str(pairs.failures[0][1])


def test_train_bind_command(tmp_path, world, tiny_weights, capsys):
    path = pairs_csv(world, Modality.THERMAL, tmp_path / "p.csv")
    out = tmp_path / "bound.safetensors"
    code = main(
        [
            "train-bind",
            "--base",
            str(tiny_weights),
            "--modality",
            "thermal",
            "--pairs",
            str(path),
            "--epochs",
            "2",
            "--batch-size",
            "4",
            "--out",
            str(out),
            "--device",
            "cpu",
            "--val-fraction",
            "0.25",
        ]
    )
    assert code == 0 and out.is_file()
    text = capsys.readouterr().out
    assert "| thermal |" in text
    from engine.models.factory import load_model

    assert load_model(out, device="cpu").entry.config.thermal_embed_dim == 16
