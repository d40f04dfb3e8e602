from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.encoder import Encoder
from engine.modality import Modality
from engine.preprocess import (
    CorruptFile,
    DeviceOutOfMemory,
    EmptyFile,
    InvalidSignal,
    Limits,
    PreprocessError,
    UnsupportedFile,
    errors,
)
from tests.files import write_audio, write_depth_png, write_image, write_imu_csv


def test_bad_files_do_not_stop_the_batch(tmp_path, tiny_model):
    good = [write_image(tmp_path / f"{i}.png", seed=i) for i in range(5)]
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    paths = [good[0], tmp_path / "empty.png", *good[1:3], tmp_path / "text.png", *good[3:]]
    results = Encoder(tiny_model, batch_size=2, workers=2).encode_files(Modality.VISION, paths)
    assert [r.index for r in results] == list(range(len(paths)))
    assert [r.ok for r in results] == [True, False, True, True, False, True, True]
    assert isinstance(results[1].error, EmptyFile) and "empty.png" in str(results[1].error)
    assert isinstance(results[4].error, UnsupportedFile)


def test_embeddings_are_unit_norm_and_scale_restores_model_output(tmp_path, tiny_model):
    paths = [write_audio(tmp_path / f"{i}.wav", seconds=2.5, freq=200 + 100 * i) for i in range(3)]
    results = Encoder(tiny_model, batch_size=2).encode_files(Modality.AUDIO, paths)
    from engine.preprocess import load_audio

    with torch.inference_mode():
        direct = tiny_model.network.encode(Modality.AUDIO, torch.stack([load_audio(p, tiny_model.spec) for p in paths]))
    for result, row in zip(results, direct, strict=True):
        assert result.embedding.dtype == np.float32
        assert abs(np.linalg.norm(result.embedding) - 1) < 1e-5
        np.testing.assert_allclose(result.embedding * result.scale, row.numpy(), atol=1e-5)


def test_every_modality_encodes(tmp_path, tiny_model):
    encoder = Encoder(tiny_model)
    files = {
        Modality.VISION: write_image(tmp_path / "a.jpg"),
        Modality.AUDIO: write_audio(tmp_path / "a.wav"),
        Modality.DEPTH: write_depth_png(tmp_path / "d.png"),
        Modality.THERMAL: write_image(tmp_path / "t.png"),
        Modality.IMU: write_imu_csv(tmp_path / "i.csv"),
    }
    for modality, path in files.items():
        [result] = encoder.encode_files(modality, [path])
        assert result.ok and result.embedding.shape == (16,), modality
    (tmp_path / "c.txt").write_text("a caption")
    [result] = encoder.encode_files(Modality.TEXT, [tmp_path / "c.txt"])
    [direct] = encoder.encode_texts(["a caption"])
    np.testing.assert_allclose(result.embedding, direct.embedding, atol=1e-6)


def test_progress_and_cancel(tmp_path, tiny_model):
    paths = [write_image(tmp_path / f"{i}.png", seed=i) for i in range(12)]
    seen: list[tuple[int, int]] = []
    results = list(
        Encoder(tiny_model, batch_size=4).iter_files(
            Modality.VISION, paths, progress=lambda _phase, d, t: seen.append((d, t))
        )
    )
    assert len(results) == 12 and seen[-1] == (12, 12)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    stop_after_first_batch = lambda: len(partial) >= 4  # noqa: E731
    partial: list = []
    for result in Encoder(tiny_model, batch_size=4).iter_files(
        Modality.VISION, paths, cancelled=stop_after_first_batch
    ):
        partial.append(result)
    assert 4 <= len(partial) < 12


def test_videos_and_pictures_batch_separately(tmp_path, tiny_model):
    import cv2

    video = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(30):
        writer.write(np.full((48, 64, 3), i * 8, dtype=np.uint8))
    writer.release()
    paths = [write_image(tmp_path / "a.png"), video, write_image(tmp_path / "b.png", seed=3)]
    results = Encoder(tiny_model, batch_size=8).encode_files(Modality.VISION, paths)
    assert all(r.ok for r in results), [str(r.error) for r in results]


def test_decoder_crash_becomes_an_item_error(tmp_path, tiny_model, monkeypatch):
    from engine.preprocess import depth as depth_module

    def explode(path, spec=None, *, limits=None):
        raise IndexError("decoder bug")

    monkeypatch.setattr(depth_module, "load_depth", explode)
    [result] = Encoder(tiny_model).encode_files(Modality.DEPTH, [tmp_path / "x.png"])
    assert isinstance(result.error, CorruptFile) and "IndexError" in str(result.error)


def test_the_encoder_counts_the_model_time_and_its_wait_for_decoding(tmp_path, tiny_model, monkeypatch):
    """A decoder slower than the model leaves the model waiting, and the encoder says for how long."""
    import time

    from engine.preprocess import depth as depth_module

    decode = depth_module.load_depth

    def slow(path, spec=None, *, limits=None):
        time.sleep(0.2)
        return decode(path, spec, limits=limits)

    monkeypatch.setattr(depth_module, "load_depth", slow)
    paths = [write_depth_png(tmp_path / f"{i}.png") for i in range(3)]
    encoder = Encoder(tiny_model, batch_size=2, workers=1)
    assert all(r.ok for r in encoder.encode_files(Modality.DEPTH, paths))
    assert encoder.waited_seconds >= 0.15  # at least the first decode: nothing else to do before it
    assert encoder.model_seconds > 0


def test_device_out_of_memory_is_transient_not_a_corrupt_file(tmp_path, tiny_model, monkeypatch):
    def out_of_memory(modality, batch):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(tiny_model, "embed", out_of_memory)
    paths = [write_image(tmp_path / f"{i}.png", seed=i) for i in range(3)]
    results = Encoder(tiny_model, batch_size=4).encode_files(Modality.VISION, paths)
    assert [type(r.error) for r in results] == [DeviceOutOfMemory] * 3  # halved down to single items
    assert results[0].error.kind == "DeviceOutOfMemory" and type(results[0].error).transient


def test_only_unreadable_files_and_device_memory_are_transient():
    kinds = [k for k in vars(errors).values() if isinstance(k, type) and issubclass(k, PreprocessError)]
    assert len(kinds) == 8
    transient = {kind.__name__ for kind in kinds if kind.transient}
    assert transient == {"UnreadableFile", "DeviceOutOfMemory"}
    assert not CorruptFile.transient and not EmptyFile.transient and not PreprocessError.transient


def test_non_finite_output_is_an_invalid_signal_on_that_item_only(tmp_path, tiny_model):
    spike = tmp_path / "s_imu.csv"
    spike.write_text("ax,ay,az,gx,gy,gz\n1e25,0,0,0,0,0\n0,0,0,0,0,0\n")
    paths = [write_imu_csv(tmp_path / "a.csv"), spike, write_imu_csv(tmp_path / "b.csv", samples=300)]
    unbounded = Limits(max_imu_magnitude=float("inf"))  # let the spike reach the model
    results = Encoder(tiny_model, batch_size=4, limits=unbounded).encode_files(Modality.IMU, paths)
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, InvalidSignal) and results[1].embedding is None
    assert str(results[1].error).startswith(f"{spike}: the model's output is not finite")
    assert all(np.isfinite(r.embedding).all() and np.isfinite(r.scale) for r in results if r.ok)
    [refused] = Encoder(tiny_model).encode_files(Modality.IMU, [spike])  # the loader's cap, before the model
    assert isinstance(refused.error, InvalidSignal) and "beyond any motion sensor" in str(refused.error)


def test_every_output_row_is_checked(tmp_path, tiny_model, monkeypatch):
    rows = torch.tensor([[1.0, 0.0], [float("nan"), 1.0], [0.0, 0.0], [float("inf"), 0.0], [3e38, 3e38]])
    monkeypatch.setattr(tiny_model, "embed", lambda modality, batch: rows[: len(batch)])
    paths = [write_image(tmp_path / f"{i}.png", seed=i) for i in range(5)]
    results = Encoder(tiny_model, batch_size=8).encode_files(Modality.VISION, paths)
    assert [r.ok for r in results] == [True, False, False, False, False]
    assert all(isinstance(r.error, InvalidSignal) for r in results[1:])


DECODE_THREADS_SCRIPT = """
import json, sys
from concurrent import futures
from pathlib import Path

import numpy as np

from engine import encoder as encoder_module
from engine.modality import Modality
from tests.conftest import tiny_entry
from tests.files import write_audio, write_depth_png, write_image, write_imu_csv

modules_at_pool_start = []


class RecordingPool(futures.ThreadPoolExecutor):
    def __init__(self, *args, **kwargs):
        modules_at_pool_start.append(set(sys.modules))
        super().__init__(*args, **kwargs)


encoder_module.ThreadPoolExecutor = RecordingPool
from engine.models.factory import LoadedModel
from engine.models.imagebind import ImageBindModel
from engine.models.runtime import choose_runtime

folder = Path(sys.argv[1])
np.save(folder / "d.npy", np.ones((40, 50), np.float32))
np.savez_compressed(folder / "d.npz", depth=np.ones((40, 50)))
np.savez(folder / "i.npz", imu=np.ones((6, 300)), timestamps=np.arange(300) / 200)
(folder / "c.txt").write_text("a caption")
files = {
    Modality.AUDIO: [write_audio(folder / f"{i}.wav", rate=22050, freq=300 + 20 * i) for i in range(12)],
    Modality.VISION: [write_image(folder / "a.png"), write_image(folder / "b.jpg", seed=1)],
    Modality.DEPTH: [write_depth_png(folder / "d.png"), folder / "d.npy", folder / "d.npz"],
    Modality.THERMAL: [write_image(folder / "t.tif")],
    Modality.IMU: [write_imu_csv(folder / "i.csv"), folder / "i.npz"],
    Modality.TEXT: [folder / "c.txt"],
}
entry = tiny_entry()
model = LoadedModel(entry, ImageBindModel(entry.config).eval(), choose_runtime("cpu"))
report = {}
for modality, paths in files.items():
    results = encoder_module.Encoder(model, batch_size=4, workers=12).encode_files(modality, paths)
    imported = set(sys.modules) - modules_at_pool_start[-1]
    report[modality.value] = {
        "errors": [str(r.error) for r in results if not r.ok],
        "imported_while_decoding": sorted(m for m in imported if m.split(".")[0] not in sys.stdlib_module_names),
    }
print(json.dumps(report))
"""


@pytest.mark.slow
def test_decode_threads_never_import_a_library(tmp_path):
    """Two threads importing torchaudio at once failed valid WAVs; so nothing is imported on a decode thread.

    A fresh interpreter (nothing imported yet), twelve decode threads per modality; every
    library a loader needs must already be imported when the pool starts, which is checked
    exactly rather than by hoping a race shows up.
    """
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", DECODE_THREADS_SCRIPT, str(tmp_path)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert set(report) == {m.value for m in Modality}
    for modality, outcome in report.items():
        assert outcome == {"errors": [], "imported_while_decoding": []}, modality
