from __future__ import annotations

import numpy as np
import torch

from engine.encoder import Encoder
from engine.modality import Modality
from engine.preprocess import CorruptFile, DeviceOutOfMemory, EmptyFile, PreprocessError, UnsupportedFile, errors
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
        direct = tiny_model.model.encode(Modality.AUDIO, torch.stack([load_audio(p, tiny_model.spec) for p in paths]))
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
        Encoder(tiny_model, batch_size=4).iter_files(Modality.VISION, paths, progress=lambda d, t: seen.append((d, t)))
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
    from engine import encoder as encoder_module

    def explode(path, spec=None, *, limits=None):
        raise MemoryError("decoder ran out of memory")

    monkeypatch.setitem(encoder_module.LOADERS, Modality.DEPTH, explode)
    [result] = Encoder(tiny_model).encode_files(Modality.DEPTH, [tmp_path / "x.png"])
    assert isinstance(result.error, CorruptFile) and "MemoryError" in str(result.error)


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
