from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.models.factory import load_model
from engine.models.imagebind import ImageBindModel
from engine.models.safetensors_header import read_metadata
from engine.models.weights import (
    WeightsError,
    check_finite,
    checksum_of,
    read_state_dict,
    save_safetensors,
    tensors_checksum,
)
from engine.models.zoo import (
    CONFIG_METADATA_KEY,
    SPEC_METADATA_KEY,
    ModelUnavailable,
    metadata_for,
    resolve,
)
from tests.conftest import tiny_entry


def load(path):
    """Load a checkpoint the way the product does: a model entry whose weights are ``path``."""
    return load_model(tiny_entry(weights=path), device="cpu").network


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
    assert loaded.network.modality_heads["vision"][2].weight.dtype == torch.float32
    torch.testing.assert_close(
        loaded.network.modality_heads["vision"][2].weight,
        model.modality_heads["vision"][2].weight,
        atol=1e-3,
        rtol=1e-3,
    )


def test_corrupt_safetensors(tmp_path, model):
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(WeightsError, match="bad.safetensors: not a readable safetensors file"):
        load(tmp_path / "bad.safetensors")


def _tensor_data_start(path) -> int:
    """Where a safetensors file's tensor bytes begin (after the 8-byte length and the JSON header)."""
    with open(path, "rb") as handle:
        return 8 + int.from_bytes(handle.read(8), "little")


def _save_with_metadata(path, state, metadata):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_nan_weights_fail_at_load_naming_the_tensor(tmp_path, model, suffix):
    state = model.state_dict()
    state["modality_heads.vision.2.weight"][3, 5] = float("nan")
    path = tmp_path / f"nan{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        _save_with_metadata(path, state, None)
    with pytest.raises(WeightsError, match=rf"nan{suffix}: tensor modality_heads.vision.2.weight holds NaN"):
        load(path)


def test_infinite_parameter_fails_but_the_causal_mask_may_hold_infinity(tmp_path, model):
    state = model.state_dict()
    assert torch.isinf(state["modality_preprocessors.text.mask"]).any()  # loads fine: see the round trips
    state["modality_trunks.imu.blocks.0.attn.in_proj_weight"][0, 0] = float("-inf")
    torch.save(state, tmp_path / "inf.pth")
    with pytest.raises(WeightsError, match="tensor modality_trunks.imu.blocks.0.attn.in_proj_weight holds NaN or inf"):
        load(tmp_path / "inf.pth")


def test_safetensors_carry_a_checksum_of_their_tensors(tmp_path, model):
    path = save_safetensors(model, tmp_path / "w.safetensors", {"note": "kept"})
    assert checksum_of(path) == tensors_checksum(read_state_dict(path)) == tensors_checksum(model.state_dict())
    assert len(checksum_of(path)) == 64
    assert read_metadata(path)["note"] == "kept"
    torch.save(model.state_dict(), tmp_path / "w.pth")
    assert checksum_of(tmp_path / "w.pth") is None
    plain = _save_with_metadata(tmp_path / "plain.safetensors", model.state_dict(), None)
    assert checksum_of(plain) is None
    load(plain)  # no checksum to verify: still loads


def test_checksum_covers_names_dtypes_and_shapes():
    base = {"a": torch.zeros(2, 3), "b": torch.ones(4)}
    reference = tensors_checksum(base)
    assert tensors_checksum(dict(reversed(base.items()))) == reference  # sorted, not insertion order
    for changed in (
        {"a2": base["a"], "b": base["b"]},
        {"a": base["a"].reshape(3, 2), "b": base["b"]},
        {"a": base["a"].double(), "b": base["b"]},
        {"a": base["a"], "b": torch.tensor([1.0, 1.0, 1.0, 1.0 + 1e-6])},
    ):
        assert tensors_checksum(changed) != reference


def test_random_bytes_inside_a_tensor_are_detected(tmp_path, model):
    path = save_safetensors(model, tmp_path / "w.safetensors", metadata_for(tiny_entry().config, tiny_entry().spec))
    data = bytearray(path.read_bytes())
    start = _tensor_data_start(path)
    rng = np.random.default_rng(0)
    for offset in rng.integers(start, len(data), size=5):
        damaged = bytearray(data)
        damaged[offset] ^= 0x5A
        (tmp_path / "bad.safetensors").write_bytes(damaged)
        with pytest.raises(
            WeightsError, match="bad.safetensors: the tensors do not match their checksum; the file is damaged"
        ):
            load_model(str(tmp_path / "bad.safetensors"), device="cpu")


@pytest.mark.parametrize(
    "metadata, reason",
    [
        ({CONFIG_METADATA_KEY: "{not json"}, "the metadata 'bindscope.config' is not valid JSON"),
        ({CONFIG_METADATA_KEY: "[16, 2]"}, "expected a JSON object of ImageBindConfig fields, got list"),
        ({CONFIG_METADATA_KEY: '{"vision_embed_dim": "big"}'}, "ImageBindConfig.vision_embed_dim must be an integer"),
        ({CONFIG_METADATA_KEY: '{"kernel_size": 14}'}, "ImageBindConfig.kernel_size must be a list of 3 numbers"),
        ({CONFIG_METADATA_KEY: "{}", SPEC_METADATA_KEY: '{"image_mean": null}'}, "image_mean must be a list"),
        ({CONFIG_METADATA_KEY: "{}", SPEC_METADATA_KEY: '{"depth_sensor": {"baseline": "x"}}'}, "baseline must be"),
        ({CONFIG_METADATA_KEY: '{"vision_num_heads": 0}'}, "its model config does not build a network"),
        ({CONFIG_METADATA_KEY: '{"wings": 2}'}, "unknown ImageBindConfig keys: wings"),
    ],
)
def test_broken_metadata_is_one_line_naming_the_file(tmp_path, model, metadata, reason):
    path = _save_with_metadata(tmp_path / "meta.safetensors", model.state_dict(), metadata)
    with pytest.raises(WeightsError) as info:
        load_model(str(path), device="cpu")
    assert str(info.value).startswith(f"{path}: ") and reason in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "sidecar, reason",
    [
        (b"{", "the model description is not valid JSON"),
        (b"\xff\xfe{}", "the model description is not valid JSON"),
        (b"[]", "the model description must be a JSON object, got list"),
        (b'{"config": "tiny"}', "expected a JSON object of ImageBindConfig fields, got str"),
        (b'{"config": {"out_embed_dim": 1.5}}', "ImageBindConfig.out_embed_dim must be an integer"),
        (b'{"config": {}, "spec": {"imu_length": [1]}}', "PreprocessSpec.imu_length must be an integer"),
    ],
)
def test_broken_sidecar_is_one_line_naming_it(tmp_path, model, sidecar, reason):
    torch.save(model.state_dict(), tmp_path / "w.pth")
    (tmp_path / "w.json").write_bytes(sidecar)
    with pytest.raises(WeightsError) as info:
        load_model(str(tmp_path / "w.pth"), device="cpu")
    assert str(info.value).startswith(f"{tmp_path / 'w.json'}: ") and reason in str(info.value)


def test_sidecar_describes_a_pth(tmp_path, model):
    import json

    entry = tiny_entry()
    torch.save(model.state_dict(), tmp_path / "w.pth")
    (tmp_path / "w.json").write_text(json.dumps({"config": entry.config.to_dict(), "spec": entry.spec.to_dict()}))
    local = resolve(str(tmp_path / "w.pth"))
    assert local.config == entry.config and local.spec == entry.spec


@pytest.mark.parametrize(
    "head",
    [
        b"\xff" * 8 + b"{}",  # a header longer than the file
        b"\x04\x00\x00\x00\x00\x00\x00\x00[1] ",  # not an object
        b'\x1a\x00\x00\x00\x00\x00\x00\x00{"__metadata__": {"a": 1}}',  # metadata values must be strings
        b"\x02\x00\x00\x00\x00\x00\x00\x00{}",  # no tensors at all
        b"abc",  # shorter than the length field
    ],
)
def test_malformed_safetensors_headers(tmp_path, head):
    (tmp_path / "h.safetensors").write_bytes(head)
    with pytest.raises(WeightsError, match=r"h.safetensors: (not a readable safetensors file|does not fit)"):
        load_model(str(tmp_path / "h.safetensors"), device="cpu")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_damaged_checkpoints_only_ever_raise_weights_error(tmp_path, model, suffix):
    """Random bytes anywhere in a checkpoint: it loads (a .pth cannot know) or fails in one line; never a traceback."""
    source = tmp_path / f"w{suffix}"
    if suffix == ".pth":
        torch.save(model.state_dict(), source)
    else:
        save_safetensors(model, source, metadata_for(tiny_entry().config, tiny_entry().spec))
    data = source.read_bytes()
    rng = np.random.default_rng(1)
    outcomes = []
    for trial in range(16):
        damaged = bytearray(data)
        for offset in rng.integers(0, min(len(data), 4096) if trial % 2 else len(data), size=3):
            damaged[offset] = int(rng.integers(0, 256))
        path = tmp_path / f"d{trial}{suffix}"
        path.write_bytes(damaged)
        try:
            load_model(tiny_entry(weights=path) if suffix == ".pth" else str(path), device="cpu")
            outcomes.append("loaded")
        except WeightsError as error:
            assert str(error).startswith(str(path)), error
            outcomes.append("refused")
    assert "refused" in outcomes


def test_huge_but_finite_weights_are_not_mistaken_for_infinity(model):
    state = model.state_dict()
    state["modality_heads.vision.2.weight"][0, :2] = 3e38  # the float32 sum overflows; every value is finite
    norm = "modality_heads.text.proj.0.weight"
    state[norm] = state[norm].half() + 60000  # float16 near its maximum: fine too
    check_finite(model, state, "big.pth")
    state["modality_heads.vision.2.weight"][0, 2] = float("nan")
    with pytest.raises(WeightsError, match="big.pth: tensor modality_heads.vision.2.weight holds NaN"):
        check_finite(model, state, "big.pth")


def test_an_unchanged_checkpoint_is_hashed_once_and_a_changed_one_again(tmp_path, model, monkeypatch):
    import os

    import engine.models.weights as weights

    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    path = save_safetensors(model, tmp_path / "w.safetensors", metadata_for(tiny_entry().config, tiny_entry().spec))
    hashed = []
    monkeypatch.setattr(weights, "tensors_checksum", lambda tensors: hashed.append(1) or tensors_checksum(tensors))
    read_state_dict(path)
    read_state_dict(path)
    assert len(hashed) == 1  # the second load found the verified checksum for the file as it is
    data = bytearray(path.read_bytes())
    data[_tensor_data_start(path) + 3] ^= 0x5A
    path.write_bytes(data)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    for _ in range(2):
        with pytest.raises(WeightsError, match="the tensors do not match their checksum"):
            read_state_dict(path)
    assert len(hashed) == 2  # changed: hashed again; still damaged: refused from what was found


def test_a_checkpoint_found_finite_is_not_summed_again_and_a_nan_one_always_fails(tmp_path, model, monkeypatch):
    import engine.models.factory as factory

    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    checked = []
    monkeypatch.setattr(factory, "check_finite", lambda *args: checked.append(1) or check_finite(*args))
    torch.save(model.state_dict(), tmp_path / "good.pth")
    load(tmp_path / "good.pth")
    load(tmp_path / "good.pth")
    assert len(checked) == 1
    state = model.state_dict()
    state["modality_heads.vision.2.weight"][0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pth")
    for _ in range(2):
        with pytest.raises(WeightsError, match="holds NaN"):
            load(tmp_path / "nan.pth")
    assert len(checked) == 3
