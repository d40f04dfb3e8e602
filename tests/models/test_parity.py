"""Parity with the reference implementation, from the fixtures in ../shared/parity/."""

from __future__ import annotations

import json

import pytest
import torch

from engine.encoder import Encoder
from engine.modality import Modality
from engine.models.factory import LoadedModel
from engine.models.imagebind import ImageBindModel
from engine.models.runtime import choose_runtime
from engine.models.zoo import IMAGEBIND_HUGE, ModelEntry, WeightSource, spec_for
from engine.preprocess import load_audio, load_image, tokenize

TOLERANCE = 1e-4


@pytest.mark.parametrize("modality", [m.value for m in Modality])
def test_tiny_model_outputs_match_reference(parity_model, parity_io, modality):
    with torch.inference_mode():
        out = parity_model({modality: parity_io["inputs"][modality]})[modality]
    torch.testing.assert_close(out, parity_io["outputs"][modality], atol=TOLERANCE, rtol=0)


def test_video_clips_are_averaged_like_reference(parity_model, parity_io):
    with torch.inference_mode():
        out = parity_model({"vision": parity_io["video_input"]})["vision"]
    torch.testing.assert_close(out, parity_io["video_output"], atol=TOLERANCE, rtol=0)


def test_all_modalities_in_one_call(parity_model, parity_io):
    with torch.inference_mode():
        out = parity_model(parity_io["inputs"])
    assert set(out) == set(parity_io["outputs"])


def test_tokenizer_matches_reference(parity_io):
    assert torch.equal(tokenize(parity_io["texts"]), parity_io["tokens"])


def test_vision_preprocessing_matches_reference(parity_dir, parity_io):
    for name, expected in zip(parity_io["image_files"], parity_io["vision_preprocessed"], strict=True):
        torch.testing.assert_close(load_image(parity_dir / "inputs" / name), expected, atol=TOLERANCE, rtol=0, msg=name)


def test_audio_preprocessing_matches_reference(parity_dir, parity_io):
    for name, expected in zip(parity_io["audio_files"], parity_io["audio_preprocessed"], strict=True):
        torch.testing.assert_close(load_audio(parity_dir / "inputs" / name), expected, atol=TOLERANCE, rtol=0, msg=name)


def test_files_to_embeddings_end_to_end(parity_dir, parity_model, parity_io):
    config = parity_model.config
    entry = ModelEntry("tiny-parity", "tiny", config, spec_for(config), WeightSource("none"), "parity")
    encoder = Encoder(LoadedModel(entry, parity_model, choose_runtime("cpu")), batch_size=3)
    expected = parity_io["end_to_end_outputs"]
    runs = {
        "vision": encoder.encode_files(Modality.VISION, [parity_dir / "inputs" / n for n in parity_io["image_files"]]),
        "audio": encoder.encode_files(Modality.AUDIO, [parity_dir / "inputs" / n for n in parity_io["audio_files"]]),
        "text": encoder.encode_texts(parity_io["texts"]),
    }
    for key, results in runs.items():
        assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok]
        scaled = torch.stack([torch.from_numpy(r.embedding * r.scale) for r in results])
        torch.testing.assert_close(scaled, expected[key], atol=TOLERANCE, rtol=0, msg=key)


def test_huge_config_has_reference_keys_and_shapes(parity_dir):
    reference = json.loads((parity_dir / "imagebind_huge_keys.json").read_text())
    with torch.device("meta"):
        model = ImageBindModel(IMAGEBIND_HUGE.config)
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert ours == reference
    assert sum(v.numel() for v in model.state_dict().values()) == 1_200_786_990
