"""Half precision on CUDA stays within cosine 0.999 of float32 (skips on machines without CUDA)."""

from __future__ import annotations

import pytest
import torch

from engine.encoder import Encoder
from engine.modality import Modality
from engine.models.factory import LoadedModel
from engine.models.imagebind import ImageBindModel
from engine.models.runtime import choose_runtime
from tests.conftest import tiny_entry
from tests.files import write_audio, write_depth_png, write_image, write_imu_csv

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; CI has none"),
]

MEDIUM = dict(
    out_embed_dim=256,
    vision_embed_dim=384,
    vision_num_blocks=6,
    vision_num_heads=6,
    text_embed_dim=256,
    text_num_blocks=6,
    text_num_heads=4,
    audio_embed_dim=256,
    audio_num_blocks=6,
    audio_num_heads=4,
    depth_embed_dim=256,
    depth_num_blocks=6,
    depth_num_heads=4,
    thermal_embed_dim=256,
    thermal_num_blocks=6,
    thermal_num_heads=4,
    imu_embed_dim=256,
    imu_num_blocks=4,
    imu_num_heads=4,
    image_size=224,
)


@pytest.mark.parametrize("precision", ["float16", "bfloat16"])
def test_half_precision_matches_float32(tmp_path, precision):
    if precision == "bfloat16" and not torch.cuda.is_bf16_supported():
        pytest.skip("no bfloat16 on this GPU")
    torch.manual_seed(0)
    entry = tiny_entry("medium", **MEDIUM)
    model = ImageBindModel(entry.config).eval()
    full = Encoder(LoadedModel(entry, model.cuda(), choose_runtime("cuda", "float32")))
    half = Encoder(LoadedModel(entry, model, choose_runtime("cuda", precision)))
    files = {
        Modality.VISION: [write_image(tmp_path / f"{i}.png", 300, 200, seed=i) for i in range(4)],
        Modality.AUDIO: [write_audio(tmp_path / f"{i}.wav", seconds=3, freq=300 + 50 * i) for i in range(4)],
        Modality.DEPTH: [write_depth_png(tmp_path / "d.png")],
        Modality.THERMAL: [write_image(tmp_path / "t.png")],
        Modality.IMU: [write_imu_csv(tmp_path / "i.csv")],
    }
    for modality, paths in files.items():
        for a, b in zip(full.encode_files(modality, paths), half.encode_files(modality, paths), strict=True):
            assert float(a.embedding @ b.embedding) >= 0.999, modality
    for a, b in zip(
        full.encode_texts(["a dog", "rain on a roof"]), half.encode_texts(["a dog", "rain on a roof"]), strict=True
    ):
        assert float(a.embedding @ b.embedding) >= 0.999
