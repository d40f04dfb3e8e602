from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.modality import Modality
from engine.preprocess.detect import detect_modality
from tests.files import write_audio, write_depth_png, write_image, write_imu_csv


def test_parse_accepts_keys_labels_and_aliases():
    assert Modality.parse("vision") is Modality.VISION
    assert Modality.parse("Image") is Modality.VISION
    assert Modality.parse("sound") is Modality.AUDIO
    with pytest.raises(ValueError, match="unknown modality 'smell'"):
        Modality.parse("smell")


def test_detection_by_extension(tmp_path):
    assert detect_modality(write_image(tmp_path / "photo.jpg")) is Modality.VISION
    assert detect_modality(write_audio(tmp_path / "clip.flac")) is Modality.AUDIO
    assert detect_modality(write_imu_csv(tmp_path / "walk.csv")) is Modality.IMU
    (tmp_path / "note.txt").write_text("hello")
    assert detect_modality(tmp_path / "note.txt") is Modality.TEXT
    assert detect_modality(tmp_path / "movie.mp4") is Modality.VISION
    assert detect_modality(tmp_path / "archive.zip") is None


def test_depth_and_thermal_by_name_or_content(tmp_path):
    tmp_path = tmp_path / "data"  # pytest's folder name mentions depth and thermal
    assert detect_modality(write_image(tmp_path / "depth" / "0001.png")) is Modality.DEPTH
    assert detect_modality(write_image(tmp_path / "scene_thermal.jpg")) is Modality.THERMAL
    assert detect_modality(write_image(tmp_path / "infrared" / "0001.jpg")) is Modality.THERMAL
    assert detect_modality(write_image(tmp_path / "my_iris.jpg")) is Modality.VISION  # words, not substrings
    assert detect_modality(write_depth_png(tmp_path / "frame.png")) is Modality.DEPTH  # 16-bit grey
    tmp_path.mkdir(exist_ok=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "gray.png")
    assert detect_modality(tmp_path / "gray.png") is Modality.VISION


def test_arrays_by_shape(tmp_path):
    tmp_path = tmp_path / "data"
    tmp_path.mkdir()
    np.save(tmp_path / "a.npy", np.zeros((100, 6)))
    np.save(tmp_path / "b.npy", np.zeros((48, 64)))
    assert detect_modality(tmp_path / "a.npy") is Modality.IMU
    assert detect_modality(tmp_path / "b.npy") is Modality.DEPTH


def test_override_wins(tmp_path):
    assert detect_modality(write_image(tmp_path / "photo.jpg"), "thermal") is Modality.THERMAL
