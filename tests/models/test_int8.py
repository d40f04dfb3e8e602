"""The CPU's int8 runtime (OpenVINO: int8 weights, activations quantized on the fly) stays faithful to PyTorch float32, and its cache heals."""

from __future__ import annotations

import pytest
import torch

from engine.demo.world import generate
from engine.modality import Modality
from engine.models.factory import LoadedModel, load_model
from engine.models.runtime import choose_runtime
from engine.preprocess import prepare_loader, tokenize

pytest.importorskip("openvino")
pytest.importorskip("nncf")
pytestmark = pytest.mark.xdist_group("openvino")  # one worker converts the demo towers once (module fixtures)

PROMPTS = ["a dog barking", "a red car on a wet road", "rain on a tin roof", "a bell", "someone walking"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("cache")
        patch.setenv("BINDSCOPE_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def demo_int8(cache) -> LoadedModel:
    return load_model("demo", device="cpu", precision="int8")


@pytest.fixture(scope="module")
def demo_inputs(demo_int8, tmp_path_factory) -> dict[Modality, torch.Tensor]:
    world = tmp_path_factory.mktemp("world")
    observations = generate(world, per_concept=1, seed=3)
    inputs = {Modality.TEXT: torch.stack([tokenize(p, demo_int8.spec)[0] for p in PROMPTS])}
    for modality in Modality:
        if modality is not Modality.TEXT:
            load = prepare_loader(modality)
            inputs[modality] = torch.stack(
                [load(world / o.files[modality.value], demo_int8.spec) for o in observations]
            )
    return inputs


def _float32(model: LoadedModel, modality: Modality, batch: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model.network.encode(modality, batch)


@pytest.mark.slow
@pytest.mark.parametrize("modality", list(Modality), ids=lambda m: m.value)
def test_int8_vectors_keep_cosine_to_float32_on_trained_weights(demo_int8, demo_inputs, modality):
    assert modality in demo_int8.int8_towers  # every tower converts, IMU's included
    batch = demo_inputs[modality]
    cosine = torch.nn.functional.cosine_similarity(
        demo_int8.embed(modality, batch), _float32(demo_int8, modality, batch)
    )
    assert cosine.min() >= 0.9995, f"{modality.value}: min cosine {cosine.min():.6f}"


def test_auto_keeps_small_towers_exact_and_float32_is_pytorch(tiny_model):
    auto = LoadedModel(tiny_model.entry, tiny_model.network, choose_runtime("cpu", "auto"))
    exact = LoadedModel(tiny_model.entry, tiny_model.network, choose_runtime("cpu", "float32"))
    assert auto.int8_towers == () and exact.int8_towers == ()
    assert exact.vectors_made_by() == "PyTorch, CPU, float32"
    # the status bar and `status` say what ran, not the policy: no tower of this model is large enough for OpenVINO
    assert auto.vectors_made_by() == "PyTorch, CPU, float32" and auto.describe().endswith(" on CPU, float32")
    tokens = torch.stack([tokenize(p, tiny_model.spec)[0] for p in PROMPTS])
    assert torch.equal(exact.embed(Modality.TEXT, tokens), _float32(tiny_model, Modality.TEXT, tokens))


@pytest.mark.slow
def test_a_truncated_cache_is_rebuilt(tiny_model, cache):
    from engine.models.runtimes.openvino_towers import OpenVINOTowers

    tokens = torch.stack([tokenize(p, tiny_model.spec)[0] for p in PROMPTS])
    first = OpenVINOTowers(tiny_model.network, "tiny-truncated")
    expected = first.run(Modality.TEXT, tokens)
    weights = first.folder / "text" / "model.bin"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    messages: list[str] = []
    again = OpenVINOTowers(tiny_model.network, "tiny-truncated", report=messages.append)
    assert torch.equal(again.run(Modality.TEXT, tokens), expected)
    assert "unusable" in messages[0] and "rebuilding" in messages[0]
    assert any("converted" in message for message in messages)
    assert weights.stat().st_size > 0 and (first.folder / "text" / "manifest.json").is_file()


def test_a_conversion_another_process_finished_first_is_used(tiny_model, cache, monkeypatch):
    """The app and the command line convert the same tower on first use: the one that renames second keeps the
    first one's complete conversion instead of failing."""
    import shutil

    from engine.models.runtimes import openvino_towers

    tokens = torch.stack([tokenize(p, tiny_model.spec)[0] for p in PROMPTS])
    towers = openvino_towers.OpenVINOTowers(tiny_model.network, "tiny-raced")
    expected = towers.run(Modality.TEXT, tokens)
    target = towers.folder / "text"
    theirs, ours = cache / "theirs", cache / "ours"
    shutil.copytree(target, theirs)
    shutil.copytree(target, ours)
    real_rmtree = shutil.rmtree

    def the_other_process_finishes_meanwhile(path, ignore_errors=False):
        real_rmtree(path, ignore_errors=ignore_errors)
        shutil.copytree(theirs, path)

    monkeypatch.setattr(openvino_towers.shutil, "rmtree", the_other_process_finishes_meanwhile)
    openvino_towers._put_in_place(ours, target)  # the rename fails: their complete conversion stands there
    monkeypatch.undo()
    assert torch.equal(
        openvino_towers.OpenVINOTowers(tiny_model.network, "tiny-raced").run(Modality.TEXT, tokens), expected
    )
