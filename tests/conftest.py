"""Shared fixtures: a tiny random ImageBind, the parity fixtures when ``../shared`` exists,
and a folder of generated files of every modality."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    # pytest-xdist runs a process per core: each one's torch (and the processes it starts) on its share of the
    # cores, not all of them, or the workers' threads fight over the cores (the tiny models' tests ran 3-4x slower)
    threads = max(1, (os.cpu_count() or 1) // workers)
    torch.set_num_threads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))

from engine.models.factory import LoadedModel
from engine.models.imagebind import ImageBindConfig, ImageBindModel
from engine.models.runtime import choose_runtime
from engine.models.zoo import ModelEntry, WeightSource, spec_for

PARITY_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "parity"

# Small enough to run every test in milliseconds, complete enough to exercise every encoder.
TINY = dict(
    out_embed_dim=16,
    vision_embed_dim=16,
    vision_num_blocks=1,
    vision_num_heads=2,
    text_embed_dim=16,
    text_num_blocks=1,
    text_num_heads=2,
    audio_embed_dim=16,
    audio_num_blocks=1,
    audio_num_heads=2,
    depth_embed_dim=16,
    depth_num_blocks=1,
    depth_num_heads=2,
    thermal_embed_dim=16,
    thermal_num_blocks=1,
    thermal_num_heads=2,
    imu_embed_dim=16,
    imu_num_blocks=1,
    imu_num_heads=2,
    image_size=56,
)


def tiny_entry(name: str = "tiny", weights: Path | None = None, **overrides) -> ModelEntry:
    config = ImageBindConfig(**{**TINY, **overrides})
    return ModelEntry(
        name, "Tiny test model", config, spec_for(config), WeightSource("tiny.safetensors", bundled=weights), "tests"
    )


@pytest.fixture(autouse=True)
def no_default_library(tmp_path, monkeypatch):
    """No test reads or makes the user's default library (the CLI without --library, the app's first start)."""
    monkeypatch.setenv("BINDSCOPE_LIBRARY", str(tmp_path / "default-library"))


@pytest.fixture(scope="session")
def tiny_model() -> LoadedModel:
    torch.manual_seed(0)
    entry = tiny_entry()
    return LoadedModel(entry, ImageBindModel(entry.config).eval(), choose_runtime("cpu"))


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory, tiny_model) -> Path:
    """The session's tiny model saved as a self-describing checkpoint, for subprocesses and the CLI."""
    from engine.models.weights import save_safetensors
    from engine.models.zoo import metadata_for

    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    return save_safetensors(tiny_model.network, path, metadata_for(tiny_model.entry.config, tiny_model.spec))


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Path:
    """One scene of every demo concept in every modality (72 real files), shared read-only by tests."""
    from engine.demo.world import generate

    folder = tmp_path_factory.mktemp("world")
    generate(folder, per_concept=1, seed=0)
    return folder


@pytest.fixture()
def make_workspace(tmp_path, tiny_weights):
    """Workspaces on libraries in this test's folder, with the tiny model (closed at the end)."""
    from engine.workspace import Workspace

    made = []

    def make(*folders, library: str = "lib", **options):
        workspace = Workspace.open(
            tmp_path / library, create=True, **{"model": str(tiny_weights), "device": "cpu", **options}
        )
        if folders:
            workspace.index(list(folders))
        made.append(workspace)
        return workspace

    yield make
    for workspace in made:
        workspace.close()


@pytest.fixture()
def mixed_folder(tmp_path, world) -> Path:
    """A copy of the demo scenes plus broken files and files no loader reads."""
    return make_mixed_folder(tmp_path / "data", world)


def make_mixed_folder(folder: Path, world: Path) -> Path:
    import shutil

    shutil.copytree(world, folder, ignore=shutil.ignore_patterns("manifest.csv"))
    (folder / "images" / "empty.jpg").write_bytes(b"")
    (folder / "audio" / "cut.wav").write_bytes(sorted((folder / "audio").iterdir())[0].read_bytes()[:60])
    (folder / "imu" / "broken.csv").write_text("ax,ay,az\n1,2,3\n")
    (folder / "notes.zip").write_bytes(b"PK")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "secret.png").write_bytes(b"")
    return folder


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    if not PARITY_DIR.is_dir():
        pytest.skip(f"reference-parity fixtures not found at {PARITY_DIR} (../shared is absent)")
    return PARITY_DIR


@pytest.fixture(scope="session")
def parity_io(parity_dir) -> dict:
    return torch.load(parity_dir / "tiny_io.pt", weights_only=True)


@pytest.fixture(scope="session")
def parity_model(parity_dir) -> ImageBindModel:
    import json

    config = ImageBindConfig(**json.loads((parity_dir / "tiny_config.json").read_text()))
    model = ImageBindModel(config).eval()
    model.load_state_dict(torch.load(parity_dir / "tiny_state_dict.pt", weights_only=True), strict=True)
    return model
