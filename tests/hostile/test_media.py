"""Issue 19, rows 5, 7, 8, 9, 11 and 15 (files): hostile media are refused or bounded, and every bound
that crops or cuts early gives the reference's values where the reference's result is the same."""

from __future__ import annotations

import contextlib
import os
import random
import string
import struct
import threading

import numpy as np
import pytest
import torch
from PIL import Image, PngImagePlugin

from engine.modality import Modality
from engine.preprocess import LOADERS, CorruptFile, DeviceOutOfMemory, UnreadableFile, load_audio, load_image, tokenize
from engine.preprocess.detect import detect_modality
from engine.preprocess.image import _short_side_scale, scaled_frame
from engine.preprocess.safe import load_safely
from engine.previews import make_preview
from tests.hostile import bombs


def _returns_within(target, seconds: float = 20):
    """``target()``'s value, or a failure if it blocks (a FIFO opened for reading waits for a writer forever)."""
    result = []
    thread = threading.Thread(target=lambda: result.append(target()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{target} blocked"
    return result[0]


@pytest.mark.parametrize("name", ["q.png", "q.csv", "q_depth.npy", "q.npy", "q.wav", "q.txt"])
def test_a_fifo_query_term_is_refused_without_blocking(tmp_path, name):  # row 5
    fifo = tmp_path / name
    os.mkfifo(fifo)
    try:
        modality = _returns_within(lambda: detect_modality(fifo))
        error = _returns_within(lambda: load_safely(LOADERS[modality], str(fifo)))
        assert isinstance(error, UnreadableFile) and "not a regular file" in str(error) and name in str(error)
    finally:  # release a reader that the old code left waiting
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.parametrize("name, modality", [("q.mp4", "vision"), ("q.png", "vision"), ("q_depth.npy", "depth")])
def test_a_fifo_preview_says_so_without_blocking(tmp_path, name, modality):  # every open goes through check_file
    fifo = tmp_path / name
    os.mkfifo(fifo)
    try:
        assert _returns_within(lambda: make_preview(str(fifo), Modality(modality))).error == "not a regular file"
    finally:  # release a reader that the old code left waiting
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.slow
def test_tiny_media_load_within_a_memory_bound(tmp_path):  # rows 7, 8, 9, 11: gigabytes before the bounds
    paths = [write(tmp_path) for write in bombs.BOMBS.values()]
    results = bombs.load_in_child(paths, extra_bytes=1_500 * 1024**2)
    for path, row in results.items():
        assert isinstance(row["shape"], list), f"{path}: {row['shape']}"


@pytest.mark.slow
def test_a_huge_mjpeg_decodes_in_the_memory_of_one_frame(tmp_path):  # row 11: 0.82 GB over start-up before, 0.41 after
    path = bombs.huge_mjpeg(tmp_path)
    row = bombs.load_in_child([path], extra_bytes=900 * 1024**2)[str(path)]
    assert row["shape"] == [15, 3, 2, 224, 224], row["shape"]


@pytest.mark.parametrize("height, width", [(90, 160), (161, 97), (224, 224), (5, 700)])
def test_a_frame_scaled_plane_by_plane_equals_the_references_scaling(height, width):  # row 11
    bgr = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    whole = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1).float().div(255.0)[:, None]  # [3, T=1, H, W]
    assert torch.equal(scaled_frame(bgr, 224), _short_side_scale(whole, 224)[:, 0])


@pytest.mark.parametrize("height, width", [(1, 300), (7, 509), (150, 41), (223, 2000), (3, 3), (640, 97), (100, 223)])
def test_an_enlarged_picture_cropped_first_equals_the_reference(height, width):  # row 7
    from engine.preprocess.image import transform_picture

    rng = np.random.default_rng(height * 1000 + width)
    picture = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    assert torch.equal(transform_picture(picture, max_scaled_pixels=0), transform_picture(picture))


@pytest.mark.parametrize("height, width", [(2, 400), (48, 64), (300, 17), (500, 700)])
def test_a_depth_map_cropped_first_equals_torchs_resize(height, width):  # row 7, depth and thermal
    from engine.preprocess.pixels import resize_center_crop

    plane = torch.from_numpy(np.random.default_rng(width).random((1, height, width), dtype=np.float32))
    torch.testing.assert_close(
        resize_center_crop(plane, 224, max_scaled_pixels=0), resize_center_crop(plane, 224), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("rate, channels", [(44100, 2), (22050, 3), (8000, 1), (1, 8), (11025, 1)])
def test_resampling_only_the_clips_spans_equals_resampling_everything(rate, channels):  # row 8
    from torchaudio.functional import resample

    from engine.preprocess.audio import resample_span

    seconds = 40 if rate == 1 else 3
    rows = torch.from_numpy(np.random.default_rng(rate).uniform(-1, 1, (channels, rate * seconds)).astype(np.float32))
    whole = resample(rows, rate, 16000)
    for start, stop in ((0, 100), (1234, 33234), (whole.shape[1] - 32000, whole.shape[1])):
        torch.testing.assert_close(
            resample_span(rows, rate, 16000, start, stop), whole[:, start:stop], atol=1e-5, rtol=0
        )


def test_texts_that_fit_get_the_reference_tokens():  # row 9
    from engine.preprocess.text import _tokenizer

    reference = _tokenizer()
    rng = random.Random(0)
    words = [
        "dog",
        "A",
        "Café",
        "🚗",
        "日本語",
        "&amp;",
        "don't",
        "<b>",
        "x1y2",
        "Hello,world!!",
        " ",
        "\n",
        "antidisestablishmentarianism",
        "".join(rng.choice(string.ascii_lowercase) for _ in range(90)),
    ]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 90))) for _ in range(40)]
    assert torch.equal(tokenize(texts), reference(texts, context_length=77))


def test_bpe_through_a_heap_equals_the_references_bpe():  # row 9
    from engine.preprocess.text import _tokenizer, byte_pair_encode

    reference = _tokenizer()
    rng = random.Random(1)
    for _ in range(500):
        word = "".join(rng.choice("aabbcdeéü日"[: rng.randint(2, 10)]) for _ in range(rng.randint(1, 60)))
        encoded = "".join(reference.byte_encoder[b] for b in word.encode())
        reference.cache.clear()
        assert byte_pair_encode(encoded, reference.bpe_ranks) == reference.bpe(encoded).split(" ")


def test_an_id3_tag_without_audio_is_reported_as_such(tmp_path):  # row 15
    frame = b"TIT2" + struct.pack(">I", 6) + b"\x00\x00\x03hello"
    size = bytes((len(frame) >> shift) & 0x7F for shift in (21, 14, 7, 0))
    (tmp_path / "tag.mp3").write_bytes(b"ID3\x04\x00\x00" + size + frame)
    with pytest.raises(CorruptFile, match="tag.mp3: an ID3 tag with no audio"):
        load_audio(tmp_path / "tag.mp3")


def test_a_valid_png_with_big_metadata_is_read(tmp_path):  # row 15
    info = PngImagePlugin.PngInfo()
    info.add_text("XML:com.adobe.xmp", "<x/>" * 750_000, zip=True)  # 3 MB of XMP, over Pillow's 1 MB default
    Image.new("RGB", (32, 32), "red").save(tmp_path / "xmp.png", pnginfo=info)
    assert load_image(tmp_path / "xmp.png").shape == (3, 224, 224)


def test_running_out_of_memory_is_not_a_damaged_file():  # row 15
    error = load_safely(lambda source: bytearray(1 << 62), "big.png")
    assert isinstance(error, DeviceOutOfMemory) and error.transient and "big.png" in str(error)


def test_a_fifo_pairs_file_or_parquet_is_refused_without_blocking(tmp_path):  # the trainer's and import's files
    from engine.exchange import ExchangeError, import_embeddings
    from engine.library import Library
    from engine.train.pairs import PairsError, read_pairs
    from tests.test_hostile import finishes

    os.mkfifo(tmp_path / "pairs.csv")
    (tmp_path / "shards").mkdir()
    os.mkfifo(tmp_path / "shards" / "a.parquet")
    try:
        with pytest.raises(PairsError, match=r"pairs.csv: cannot read the pairs file \(not a regular file\)"):
            finishes(lambda: read_pairs(tmp_path / "pairs.csv", Modality.AUDIO), 20)
        with Library(tmp_path / "lib") as library:
            with pytest.raises(ExchangeError, match=r"a.parquet: not a readable Parquet file \(not a regular file\)"):
                finishes(lambda: import_embeddings(library, tmp_path / "shards" / "a.parquet"), 20)
            refused = []
            finishes(lambda: refused.extend(import_embeddings(library, tmp_path / "shards").refused), 20)
            assert len(refused) == 1 and "a.parquet" in refused[0] and "not a regular file" in refused[0]
    finally:  # release a reader that the old code left waiting
        for fifo in (tmp_path / "pairs.csv", tmp_path / "shards" / "a.parquet"):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
