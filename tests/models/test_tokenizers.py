"""The IMU tokenizer cuts windows as the reference's ``unfold`` does, written so OpenVINO converts it."""

from __future__ import annotations

import pytest
import torch

from engine.models.tokenizers import IMUTokenizer


@pytest.mark.parametrize("length", [2000, 2003])
def test_imu_windows_equal_the_reference_unfold(length):
    torch.manual_seed(0)
    tokenizer = IMUTokenizer(kernel_size=8, length=length, dim=16).eval()
    imu = torch.randn(3, 6, length)
    windows = imu.unfold(-1, 8, 8).permute(0, 2, 1, 3)
    windows = windows.reshape(windows.shape[0], windows.shape[1], -1)
    stem = tokenizer.imu_stem
    tokens = stem.norm_layer(stem.proj(windows))
    expected = torch.cat([tokenizer.cls_token.expand(3, -1, -1), tokens], dim=1) + tokenizer.pos_embed
    with torch.no_grad():
        assert torch.equal(tokenizer(imu), expected)
