"""A new library takes the model that is available when the preferred one is not here (defect 1)."""

from __future__ import annotations

import pytest

from engine.models.zoo import default_entry, resolve
from engine.workspace import Workspace


def test_a_new_library_preferring_a_missing_model_takes_the_available_one(tmp_path):
    if resolve("imagebind-huge").available:
        pytest.skip("ImageBind-huge is on this machine: nothing is missing")
    available = default_entry()
    if available is None:
        pytest.skip("no model is available here")
    workspace = Workspace.open(tmp_path / "library", create=True, default_model="imagebind-huge", device="cpu")
    try:
        state = workspace.model_state()
        assert state.available and state.message == f"{available.title} (new library)"
    finally:
        workspace.close()
