"""Stochastic depth, written in the engine instead of imported from timm (2.9 s of imports where no text is read):
the same numbers as timm's ``DropPath`` the reference uses, in training and in evaluation."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from engine.models.transformer import DropPath


@pytest.mark.parametrize("drop_prob", [0.1, 0.7, 1.0])
def test_drop_path_draws_and_scales_as_timms(drop_prob):
    timm_layers = pytest.importorskip("timm.layers")  # installed with open_clip
    x = torch.randn(16, 5, 8)
    ours, theirs = DropPath(drop_prob).train(), timm_layers.DropPath(drop_prob).train()
    torch.manual_seed(7)
    expected = theirs(x)
    torch.manual_seed(7)
    assert torch.equal(ours(x), expected)
    assert torch.equal(ours.eval()(x), x)


def test_loading_a_model_does_not_import_timm():
    code = "import sys, engine.models.factory, app.cli; print('timm' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
