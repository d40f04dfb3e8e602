"""The demo world: deterministic, varied, and readable by every loader."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from engine.demo.concepts import CONCEPTS, caption
from engine.demo.world import MODALITY_FOLDERS, generate, read_manifest
from engine.modality import Modality
from engine.preprocess import LOADERS
from engine.preprocess.detect import detect_modality


def digest(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_world(tmp_path):
    generate(tmp_path / "a", per_concept=1, seed=7)
    generate(tmp_path / "b", per_concept=1, seed=7)
    generate(tmp_path / "c", per_concept=1, seed=8)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_every_file_loads_as_its_modality(world):
    from engine.models.zoo import DEMO_SPEC

    observations = read_manifest(world / "manifest.csv")
    assert len(observations) == 12 and {o.concept for o in observations} == {c.name for c in CONCEPTS}
    for observation in observations:
        for key, relative in observation.files.items():
            path = world / relative
            modality = Modality(key)
            assert detect_modality(path) is modality, path
            for spec in (DEMO_SPEC, None):
                tensor = LOADERS[modality](path, spec)
                assert tensor.isfinite().all(), path


def test_observations_of_one_concept_differ(tmp_path):
    observations = generate(tmp_path, per_concept=3, seed=0)
    dogs = [
        np.asarray(Image.open(tmp_path / o.files["vision"]).convert("RGB"), dtype=np.float32)
        for o in observations
        if o.concept == "dog"
    ]
    for a in range(3):
        for b in range(a + 1, 3):
            assert np.abs(dogs[a] - dogs[b]).mean() > 5
    captions = {(tmp_path / o.files["text"]).read_text() for o in observations}
    assert len(captions) > 20


def test_paired_files_share_one_scene(world):
    """Depth and thermal are the photo's geometry: the object's silhouette is in all three."""
    observation = next(o for o in read_manifest(world / "manifest.csv") if o.concept == "car")
    depth = np.asarray(Image.open(world / observation.files["depth"]), dtype=np.float32)
    thermal = np.asarray(Image.open(world / observation.files["thermal"]), dtype=np.float32)
    assert depth.shape == thermal.shape == (120, 160)
    near = depth < np.percentile(depth, 20)
    assert thermal[near].mean() != pytest.approx(thermal[~near].mean(), abs=1.0)


def test_captions_name_their_concept():
    rng = np.random.default_rng(0)
    for concept in CONCEPTS:
        for _ in range(5):
            text = caption(concept, rng)
            assert any(noun in text for noun in concept.nouns), text
    assert set(MODALITY_FOLDERS) == {m.value for m in Modality}
