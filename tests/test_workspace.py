"""The application layer's policies: a library keeps its model and its items, even offline; changing the model
is explicit and keeps searches working; roots move without encoding anything again."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from engine.modality import Modality
from engine.models.imagebind import ImageBindModel
from engine.models.weights import save_safetensors
from engine.models.zoo import metadata_for
from engine.query import ModelMissing, Term
from engine.workspace import Workspace, WorkspaceError
from tests.conftest import tiny_entry
from tests.libraries import stored_vectors


def other_model(path, dim=24, seed=5):
    entry = tiny_entry(out_embed_dim=dim)
    torch.manual_seed(seed)
    return save_safetensors(ImageBindModel(entry.config), path, metadata_for(entry.config, entry.spec))


def test_model_and_folder_away_then_back(tmp_path, world, tiny_weights, monkeypatch):
    """Index with a model, lose the checkpoint and the drive, open again: every item and embedding stays,
    item searches, the map and stored zero-shot labels work, model-needing work says what it needs; when
    both come back nothing is encoded again."""
    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path / "cache"))  # no other model on this machine
    drive, weights = tmp_path / "drive" / "photos", tmp_path / "models" / "mine.safetensors"
    shutil.copytree(world, drive)
    weights.parent.mkdir()
    shutil.copy(tiny_weights, weights)
    first = Workspace.open(tmp_path / "lib", create=True, model=str(weights), device="cpu")
    first.index([drive])
    first.set_labels(["dog", "rain"])
    assert first.embed_labels() == 2  # stored, so zero-shot works without the model later
    vectors_before = stored_vectors(first.library)
    first.close()

    shutil.move(drive.parent, tmp_path / "unmounted")
    shutil.move(weights.parent, tmp_path / "elsewhere")
    offline = Workspace.open(tmp_path / "lib", device="cpu")
    summary = offline.summary()
    assert not summary.model.available and "mine.safetensors" in summary.model.message
    assert summary.embedded == 72 and summary.offline == 72 and summary.failed == 0
    assert summary.roots[0].state == "missing"
    mtimes = [item.mtime for item in offline.library.items()]
    assert summary.dates == (min(mtimes), max(mtimes))  # where the filter bar's calendars open
    report = offline.index()  # a re-scan: the folder is missing, so nothing is failed, removed or re-encoded
    assert report.embed.embedded == 0 and offline.summary().failed == 0 and offline.library.count() == 72
    photo = offline.library.items(modality=Modality.VISION)[0]
    outcome = offline.search([Term.item(photo.id)], k=3, labels=["dog", "rain"])
    assert outcome.results.merged and {p for p, _ in outcome.probabilities} == {"dog", "rain"}
    assert len(offline.map().projection) == 72
    with pytest.raises(ModelMissing, match=r"needs the model .*mine.safetensors.* locate the checkpoint"):
        offline.search([Term.text("a dog")])
    offline.library.add_texts(["a new caption"])
    with pytest.raises(ModelMissing, match="indexing needs the model"):
        offline.embed()
    offline.close()

    shutil.move(tmp_path / "unmounted", drive.parent)
    shutil.move(tmp_path / "elsewhere", weights.parent)
    back = Workspace.open(tmp_path / "lib", device="cpu")
    report = back.index()
    assert report.scan.unchanged == 72 and report.embed.embedded == 1  # only the new caption
    ids, modalities, vectors = stored_vectors(back.library)
    np.testing.assert_array_equal(vectors[: len(vectors_before[2])], vectors_before[2])
    assert back.summary().offline == 0 and back.search([Term.text("a dog")], k=1).results.merged


def test_a_checkpoint_found_at_another_path_is_the_same_model(tmp_path, world, tiny_weights):
    first = Workspace.open(tmp_path / "lib", create=True, model=str(tiny_weights), device="cpu")
    first.index([world / "text"])
    moved = tmp_path / "moved.safetensors"
    shutil.copy(tiny_weights, moved)
    located = Workspace.open(tmp_path / "lib", model=str(moved), device="cpu")
    assert located.search([Term.text("a dog")], k=1).results.merged
    assert located.library.model.name == str(moved)  # remembered where it is now
    impostor = other_model(tmp_path / "impostor.safetensors", dim=16, seed=9)
    with pytest.raises(WorkspaceError, match="not the checkpoint this library was embedded with"):
        Workspace.open(tmp_path / "lib", model=str(impostor), device="cpu").search([Term.text("a dog")])


def test_reembed_keeps_searching_until_the_new_set_is_complete(tmp_path, mixed_folder, tiny_weights):
    workspace = Workspace.open(tmp_path / "lib", create=True, model=str(tiny_weights), device="cpu")
    workspace.index([mixed_folder])
    old = workspace.library.model
    new_weights = other_model(tmp_path / "new.safetensors")
    plan = workspace.plan_reembed(str(new_weights))
    assert plan.items == 75 and plan.offline == 0 and plan.seconds > 0
    calls = []

    def stop_midway(phase, done, total):
        calls.append(done)
        during = workspace.search([Term.text("a dog")], k=2)  # the old model still serves searches
        assert during.results.vector.shape == (16,)

    report, switched = workspace.reembed(str(new_weights), progress=stop_midway, cancelled=lambda: len(calls) >= 2)
    assert not switched and report.cancelled and workspace.library.model == old
    report, switched = workspace.reembed(str(new_weights))  # resumes: only what was left
    assert switched and report.embedded + report.failed < 75
    assert workspace.library.model.dim == 24 and workspace.library.count("embedded") == 72
    assert {i.error_kind for i in workspace.library.items(status="failed")} >= {"EmptyFile"}  # tried again, same fate
    assert workspace.search([Term.text("a dog")], k=2).results.vector.shape == (24,)


def test_a_moved_root_keeps_its_embeddings(tmp_path, world, tiny_weights):
    workspace = Workspace.open(tmp_path / "lib", create=True, model=str(tiny_weights), device="cpu")
    workspace.index([world / "images"])
    moved = tmp_path / "new-drive" / "images"
    shutil.copytree(world / "images", moved)
    assert workspace.move_root(world / "images", moved) == (1, 12)
    report = workspace.index()
    assert report.scan.unchanged == 12 and report.embed.embedded == 0
    assert all(i.path.startswith(str(moved)) for i in workspace.library.items())


def test_dropped_files_are_described_off_the_gui_thread(tmp_path, make_workspace, world):
    workspace = make_workspace(world / "images")
    photo = sorted((world / "images").iterdir())[0]
    (tmp_path / "notes.zip").write_bytes(b"PK")
    (tmp_path / "table.csv").write_text("name,price\napple,3\n")
    described = workspace.describe_files([str(photo), str(tmp_path / "notes.zip"), str(tmp_path / "table.csv")])
    assert described[0].modality is Modality.VISION and described[0].item_id is not None
    assert described[1].modality is None and "cannot read .zip" in described[1].refusal
    assert "not an IMU recording" in described[2].refusal
