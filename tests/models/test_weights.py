from __future__ import annotations

import pytest
import torch

from engine.models.factory import load_model
from engine.models.imagebind import ImageBindModel
from engine.models.weights import WeightsError, read_state_dict, save_safetensors
from engine.models.zoo import ModelUnavailable, metadata_for, resolve
from tests.conftest import tiny_entry


def load(path):
    """Load a checkpoint the way the product does: a model entry whose weights are ``path``."""
    return load_model(tiny_entry(weights=path), device="cpu").model


@pytest.fixture()
def model():
    torch.manual_seed(1)
    return ImageBindModel(tiny_entry().config).eval()


def test_pth_round_trip(tmp_path, model):
    torch.save(model.state_dict(), tmp_path / "w.pth")
    fresh = load(tmp_path / "w.pth")
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value)


def test_wrapped_and_prefixed_state_dicts(tmp_path, model):
    torch.save({"model": {f"module.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "w.pth")
    assert set(read_state_dict(tmp_path / "w.pth")) == set(model.state_dict())


def test_missing_file(tmp_path, model):
    with pytest.raises(ModelUnavailable, match=r"not on this machine \(expected .*nope.pth\)"):
        load(tmp_path / "nope.pth")
    with pytest.raises(WeightsError, match="nope.pth: no such file"):
        read_state_dict(tmp_path / "nope.pth")


def test_truncated_checkpoint(tmp_path, model):
    torch.save(model.state_dict(), tmp_path / "w.pth")
    data = (tmp_path / "w.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="cut.pth: truncated or damaged"):
        load(tmp_path / "cut.pth")


def test_garbage_file(tmp_path, model):
    (tmp_path / "junk.pth").write_bytes(b"definitely not a checkpoint" * 10)
    with pytest.raises(WeightsError, match="junk.pth"):
        load(tmp_path / "junk.pth")


class Payload:
    pass


def test_pickled_objects_are_never_loaded(tmp_path, model):
    torch.save({"weights": torch.zeros(1), "evil": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="never unpickled"):
        load(tmp_path / "evil.pth")


def test_incompatible_config_lists_keys_and_shapes(tmp_path, model):
    state = model.state_dict()
    state.pop("modality_heads.imu.3.weight")
    state["extra.weight"] = torch.zeros(2)
    state["modality_heads.vision.2.weight"] = torch.zeros(3, 3)
    torch.save(state, tmp_path / "other.pth")
    with pytest.raises(WeightsError) as info:
        load(tmp_path / "other.pth")
    message = str(info.value)
    assert "other.pth: does not fit this model config" in message
    assert "1 missing keys: modality_heads.imu.3.weight" in message
    assert "1 unexpected keys: extra.weight" in message
    assert "modality_heads.vision.2.weight (file [3, 3], model [16, 16])" in message


def test_safetensors_carry_their_config(tmp_path, model):
    entry = tiny_entry()
    path = save_safetensors(
        model, tmp_path / "mine.safetensors", metadata_for(entry.config, entry.spec), dtype=torch.float16
    )
    local = resolve(str(path))
    assert local.config == entry.config and local.spec == entry.spec
    loaded = load_model(local, device="cpu")
    assert loaded.model.modality_heads["vision"][2].weight.dtype == torch.float32
    torch.testing.assert_close(
        loaded.model.modality_heads["vision"][2].weight, model.modality_heads["vision"][2].weight, atol=1e-3, rtol=1e-3
    )


def test_corrupt_safetensors(tmp_path, model):
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(WeightsError, match="bad.safetensors: not a readable safetensors file"):
        load(tmp_path / "bad.safetensors")
