from __future__ import annotations

import pytest

from engine.models.factory import load_model
from engine.models.runtime import RuntimeUnavailable, choose_runtime
from engine.models.weights import WeightsError
from engine.models.zoo import DEMO, IMAGEBIND_HUGE, ModelUnavailable, default_entry, resolve


def test_huge_resolves_to_reference_config_and_spec(monkeypatch, tmp_path):
    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path))
    entry = resolve("imagebind-huge")
    assert entry.config.vision_embed_dim == 1280 and entry.config.out_embed_dim == 1024
    assert entry.spec.image_size == 224 and entry.spec.audio_target_len == 204
    assert entry.weights.url == "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth"
    assert entry.weights_path == tmp_path / "imagebind_huge.pth"
    assert not entry.available


def test_unknown_name():
    with pytest.raises(ModelUnavailable, match="unknown model 'imagebind-giant'"):
        resolve("imagebind-giant")


def test_missing_weights_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path))
    with pytest.raises(ModelUnavailable, match="bindscope models download imagebind-huge"):
        load_model("imagebind-huge", device="cpu")


def test_truncated_huge_download_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path))
    (tmp_path / IMAGEBIND_HUGE.weights.filename).write_bytes(b"\0" * 1000)
    with pytest.raises(WeightsError, match="imagebind_huge.pth: 1,000 bytes is smaller than the expected"):
        load_model("imagebind-huge", device="cpu")


def test_local_checkpoint_without_description_assumes_huge(tmp_path):
    entry = resolve(str(tmp_path / "my_imagebind.pth"))
    assert entry.config == IMAGEBIND_HUGE.config and entry.weights_path == tmp_path / "my_imagebind.pth"


def test_runtime_choices():
    cpu = choose_runtime("cpu")  # issue 20: large towers run with int8 weights on the CPU by default
    assert cpu.device.type == "cpu" and cpu.precision == "int8"
    assert choose_runtime("cpu", "float32").precision == "float32"
    assert choose_runtime("cpu", "bfloat16").precision == "bfloat16"
    with pytest.raises(RuntimeUnavailable, match="float16 needs a CUDA GPU"):
        choose_runtime("cpu", "float16")
    with pytest.raises(RuntimeUnavailable, match="unknown device"):
        choose_runtime("tpu")


def test_a_broken_preferred_checkpoint_falls_back_to_what_is_available(monkeypatch, tmp_path):
    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path))
    (tmp_path / "mine.pth").write_bytes(b"not a checkpoint")
    (tmp_path / "mine.json").write_text("{broken")
    with pytest.raises(WeightsError, match="mine.json: the model description is not valid JSON"):
        resolve(str(tmp_path / "mine.pth"))
    assert default_entry(str(tmp_path / "mine.pth")).name == "demo"


def test_the_shipped_demo_model_carries_its_checksum():
    from engine.models.weights import checksum_of, read_state_dict, tensors_checksum

    assert checksum_of(DEMO.weights_path) == tensors_checksum(read_state_dict(DEMO.weights_path))
