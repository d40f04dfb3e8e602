"""The app's session on the engine side: switching models re-embeds, and a failed open keeps the old library."""

from __future__ import annotations

import pytest
import torch

from app.gui.session import Session
from engine.library import LibraryError
from engine.models.imagebind import ImageBindModel
from engine.models.weights import save_safetensors
from engine.models.zoo import metadata_for
from engine.query import Term
from tests.conftest import tiny_entry


def test_switching_models_reembeds_and_keeps_searching(tmp_path, world, tiny_weights):
    session = Session()
    session.load_model(str(tiny_weights), "cpu")
    session.open_library(tmp_path / "lib")
    session.add_folder(world / "text")
    session.embed()
    session.compute_map(lambda preview: None)
    assert not session.needs_embedding()
    other = tiny_entry(out_embed_dim=24)
    torch.manual_seed(5)
    path = save_safetensors(
        ImageBindModel(other.config), tmp_path / "other.safetensors", metadata_for(other.config, other.spec)
    )
    session.load_model(str(path), "cpu")
    assert session.needs_embedding()
    outcome = session.search([Term.text("a dog")], 5, None, [])  # no map for this model yet: no placement, no crash
    assert outcome.map_point is None
    session.embed()
    assert not session.needs_embedding()
    session.compute_map(lambda preview: None)
    outcome = session.search([Term.text("a dog")], 5, None, ["dog", "cat"])
    assert outcome.vector.shape == (24,) and outcome.map_point is not None and len(outcome.cards) == 5
    session.close()


def test_a_failed_open_keeps_the_library_that_was_open(tmp_path, world):
    session = Session()
    session.open_library(tmp_path / "lib")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "library.sqlite").write_text("not a database")
    with pytest.raises(LibraryError):
        session.open_library(tmp_path / "bad")
    assert session.summary().folder == str((tmp_path / "lib").resolve())
    session.close()
