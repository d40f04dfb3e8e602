"""Issue 19, row 4 and the checkpoint of row 15: a checkpoint's description is validated before anything is
allocated from it, and editing it apart from its tensors is noticed."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
import torch

from engine.models.errors import WeightsError
from engine.models.factory import load_model
from engine.models.safetensors_header import read_header
from engine.models.zoo import DEMO, resolve
from tests.test_hostile import finishes

DEMO_FILE = DEMO.weights.bundled


def _edited_demo(folder: Path, name: str, spec_changes: dict, keep_checksum: bool) -> Path:
    """A copy of the demo checkpoint whose ``bindscope.spec`` is edited (tensors untouched)."""
    data = DEMO_FILE.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    metadata = header["__metadata__"]
    metadata["bindscope.spec"] = json.dumps({**json.loads(metadata["bindscope.spec"]), **spec_changes})
    if not keep_checksum:
        metadata.pop("bindscope.metadata_sha256")
    raw = json.dumps(header).encode()
    path = folder / name
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + length :])
    return path


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"audio_clips": 1_000_000}, "audio_clips"),
        ({"image_size": 30_000}, "image_size"),
        ({"text_context_length": 1_000_000_000}, "text_context_length"),
        ({"audio_clip_seconds": 1e9}, "audio_clip_seconds"),
    ],
)
def test_spec_fields_out_of_bounds_are_refused_naming_the_file(tmp_path, changes, reason):
    path = _edited_demo(tmp_path, "edited.safetensors", changes, keep_checksum=False)
    with pytest.raises(WeightsError, match=f"edited.safetensors: .*{reason}"):
        resolve(path)


def test_a_spec_that_disagrees_with_its_network_is_refused_before_loading(tmp_path):
    path = _edited_demo(tmp_path, "small.safetensors", {"image_size": 64, "text_context_length": 16}, False)
    with pytest.raises(WeightsError, match="small.safetensors: .*image_size is 64 but the network takes 96"):
        load_model(path, device="cpu")


def test_a_description_edited_apart_from_its_tensors_is_noticed(tmp_path):
    path = _edited_demo(tmp_path, "tampered.safetensors", {"audio_clips": 2}, keep_checksum=True)
    with pytest.raises(WeightsError, match="tampered.safetensors: .*does not match its checksum"):
        load_model(path, device="cpu")


def test_a_sidecar_description_is_bounded_too(tmp_path):
    torch.save({"x": torch.zeros(1)}, tmp_path / "plain.pth")
    spec = {**DEMO.spec.to_dict(), "audio_clips": 1_000_000}
    (tmp_path / "plain.json").write_text(json.dumps({"config": DEMO.config.to_dict(), "spec": spec}))
    with pytest.raises(WeightsError, match="plain.json: .*audio_clips"):
        resolve(tmp_path / "plain.pth")


def test_a_header_nested_past_the_recursion_limit_names_the_file(tmp_path):
    raw = b"[" * 100_000 + b"]" * 100_000
    path = tmp_path / "deep.safetensors"
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)
    with pytest.raises(WeightsError, match="deep.safetensors: .*nests too deeply"):
        read_header(path)


def test_a_fifo_in_place_of_the_sidecar_is_refused_without_blocking(tmp_path):
    torch.save({"x": torch.zeros(1)}, tmp_path / "plain.pth")
    os.mkfifo(tmp_path / "plain.json")
    try:
        with pytest.raises(WeightsError, match=r"plain.json: cannot read the model description \(not a regular file\)"):
            finishes(lambda: resolve(tmp_path / "plain.pth"), 20)
    finally:  # release a reader that the old code left waiting
        with contextlib.suppress(OSError):
            os.close(os.open(tmp_path / "plain.json", os.O_WRONLY | os.O_NONBLOCK))
