from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.preprocess import CorruptFile, DepthSensor, InvalidSignal, load_depth
from engine.preprocess.depth import depth_to_disparity
from engine.preprocess.spec import DEFAULT_SPEC, PreprocessSpec
from tests.files import depth_metres, write_depth_png


def test_recipe_values():
    metres = np.array([[0.0, 0.5, 1.0, 10.0, 100.0]], dtype=np.float32)
    disparity = depth_to_disparity(metres)
    bf = 0.075 * 518.857901
    expected = np.minimum(bf / np.clip(metres, 0.01, 50.0), 75.0) / 75.0
    np.testing.assert_allclose(disparity, expected, rtol=1e-6)
    assert disparity[0, 0] == 1.0 and disparity[0, 1] == 1.0  # holes and very near clamp to the maximum


def test_png_millimetres_equal_npy_metres(tmp_path):
    metres = depth_metres()
    write_depth_png(tmp_path / "d.png", metres)
    np.save(tmp_path / "d.npy", np.round(metres * 1000) / 1000)
    np.savez(tmp_path / "d.npz", depth=np.round(metres * 1000) / 1000, other=np.zeros(3))
    png = load_depth(tmp_path / "d.png")
    assert png.shape == (1, 224, 224)
    torch.testing.assert_close(load_depth(tmp_path / "d.npy"), png, atol=1e-4, rtol=0)
    torch.testing.assert_close(load_depth(tmp_path / "d.npz"), png, atol=1e-4, rtol=0)


def test_normalisation_constants(tmp_path):
    np.save(tmp_path / "flat.npy", np.full((30, 40), 2.0, dtype=np.float32))
    value = 0.075 * 518.857901 / 2.0 / 75.0
    torch.testing.assert_close(
        load_depth(tmp_path / "flat.npy"), torch.full((1, 224, 224), (value - 0.0418) / 0.0295), atol=1e-4, rtol=0
    )


def test_sensor_override_changes_disparity(tmp_path):
    write_depth_png(tmp_path / "d.png")
    kinect = load_depth(tmp_path / "d.png")
    realsense = load_depth(tmp_path / "d.png", sensor=DepthSensor(baseline=0.095))
    assert (realsense >= kinect - 1e-6).all() and (realsense > kinect + 1e-3).any()


def test_units_per_metre_from_spec(tmp_path):
    metres = depth_metres()
    Image.fromarray(np.round(metres * 5000).astype(np.uint16)).save(tmp_path / "tum.png")
    write_depth_png(tmp_path / "nyu.png", metres)
    tum = load_depth(tmp_path / "tum.png", DEFAULT_SPEC.replace(depth_units_per_metre=5000.0))
    torch.testing.assert_close(tum, load_depth(tmp_path / "nyu.png"), atol=0.02, rtol=0)  # mm rounding near 0.8 m


def test_eight_bit_rendering_is_disparity(tmp_path):
    Image.fromarray(np.full((30, 40), 255, dtype=np.uint8)).save(tmp_path / "white.png")
    assert torch.allclose(load_depth(tmp_path / "white.png"), torch.tensor((1.0 - 0.0418) / 0.0295))


def test_spec_size(tmp_path):
    assert load_depth(write_depth_png(tmp_path / "d.png"), PreprocessSpec(image_size=64)).shape == (1, 64, 64)


def test_all_nan(tmp_path):
    np.save(tmp_path / "nan.npy", np.full((10, 10), np.nan, dtype=np.float32))
    with pytest.raises(InvalidSignal, match="nan.npy: every depth value is NaN"):
        load_depth(tmp_path / "nan.npy")


def test_wrong_shape(tmp_path):
    np.save(tmp_path / "cube.npy", np.ones((3, 10, 10), dtype=np.float32))
    with pytest.raises(InvalidSignal, match="expected a 2-D depth map"):
        load_depth(tmp_path / "cube.npy")


def test_negative_depth(tmp_path):
    np.save(tmp_path / "neg.npy", -np.ones((10, 10), dtype=np.float32))
    with pytest.raises(InvalidSignal, match="negative"):
        load_depth(tmp_path / "neg.npy")


def test_pickled_objects_are_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidSignal, match="Python objects"):
        load_depth(tmp_path / "obj.npy")


def test_corrupt_npy(tmp_path):
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(CorruptFile, match="junk.npy"):
        load_depth(tmp_path / "junk.npy")


def test_corrupt_npz(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CorruptFile, match="junk.npz"):
        load_depth(tmp_path / "junk.npz")
