from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.preprocess import CorruptFile, load_thermal
from engine.preprocess.spec import DEFAULT_SPEC
from tests.files import thermal_counts


def test_radiometric_sixteen_bit_is_rescaled_per_image(tmp_path):
    Image.fromarray(thermal_counts(offset=20000)).save(tmp_path / "cold.png")
    Image.fromarray(thermal_counts(offset=30000)).save(tmp_path / "warm.tiff")
    cold, warm = load_thermal(tmp_path / "cold.png"), load_thermal(tmp_path / "warm.tiff")
    assert cold.shape == (1, 224, 224)
    torch.testing.assert_close(cold, warm)
    assert float(cold.min()) >= 0.0 and float(cold.max()) <= 1.0 + 1e-6


def test_eight_bit_is_divided_by_255(tmp_path):
    Image.fromarray(np.full((40, 50), 51, dtype=np.uint8)).save(tmp_path / "ir.jpg", quality=100)
    torch.testing.assert_close(load_thermal(tmp_path / "ir.jpg"), torch.full((1, 224, 224), 0.2), atol=0.01, rtol=0)


def test_pseudo_colour_is_converted_to_luma(tmp_path):
    gray = (np.arange(40 * 50).reshape(40, 50) % 256).astype(np.uint8)
    Image.fromarray(gray).convert("RGB").save(tmp_path / "rgb.png")
    Image.fromarray(gray).save(tmp_path / "l.png")
    torch.testing.assert_close(load_thermal(tmp_path / "rgb.png"), load_thermal(tmp_path / "l.png"))


def test_normalisation_from_spec(tmp_path):
    Image.fromarray(np.full((40, 50), 255, dtype=np.uint8)).save(tmp_path / "hot.png")
    out = load_thermal(tmp_path / "hot.png", DEFAULT_SPEC.replace(thermal_mean=0.5, thermal_std=0.25))
    torch.testing.assert_close(out, torch.full((1, 224, 224), 2.0))


def test_constant_radiometric_image(tmp_path):
    Image.fromarray(np.full((40, 50), 31000, dtype=np.uint16)).save(tmp_path / "flat.png")
    assert torch.equal(load_thermal(tmp_path / "flat.png"), torch.zeros(1, 224, 224))


def test_corrupt(tmp_path):
    (tmp_path / "ir.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(CorruptFile, match="ir.png"):
        load_thermal(tmp_path / "ir.png")
