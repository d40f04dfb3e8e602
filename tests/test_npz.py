"""The streamed .npz writer (issue 19, row 15: the export held every array at once, 2.1 GB at a million rows)."""

from __future__ import annotations

import tracemalloc

import numpy as np

from engine import npz as npz_module
from engine.npz import NpzWriter

COLUMNS = {"ids": (np.int64, ()), "names": (str, ()), "raw": (bytes, ()), "vectors": (np.float32, (8,))}


def _batch(start: int, rows: int) -> dict:
    return {
        "ids": np.arange(start, start + rows),
        "names": [f"caf\u00e9 \u65e5{i}" * (i % 3) for i in range(start, start + rows)],
        "raw": [bytes([i % 256]) * (i % 5) + b"\xff" for i in range(start, start + rows)],
        "vectors": np.random.default_rng(start).standard_normal((rows, 8)).astype(np.float32),
    }


def test_a_streamed_archive_equals_savez_of_the_whole(tmp_path):
    batches = [_batch(0, 3), _batch(3, 0), _batch(3, 5)]
    npz = NpzWriter(tmp_path / "streamed.npz", COLUMNS)
    for batch in batches:
        npz.append(**batch)
    npz.close(model=np.array("demo"))
    whole = {name: np.concatenate([np.asarray(b[name], kind) for b in batches]) for name, (kind, _) in COLUMNS.items()}
    whole["names"] = np.array([n for b in batches for n in b["names"]], dtype=str)
    whole["raw"] = np.array([r for b in batches for r in b["raw"]], dtype=bytes)
    np.savez(tmp_path / "whole.npz", **whole, model=np.array("demo"))
    with np.load(tmp_path / "streamed.npz") as streamed, np.load(tmp_path / "whole.npz") as reference:
        assert sorted(streamed.files) == sorted(reference.files)
        for name in reference.files:
            assert streamed[name].dtype == reference[name].dtype and streamed[name].shape == reference[name].shape
            assert (streamed[name] == reference[name]).all(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["streamed.npz", "whole.npz"]  # the spill is gone


def test_no_rows_is_an_empty_archive_of_the_right_shapes(tmp_path):
    NpzWriter(tmp_path / "empty.npz", COLUMNS).close()
    with np.load(tmp_path / "empty.npz") as data:
        assert data["vectors"].shape == (0, 8) and data["names"].shape == (0,) and data["ids"].dtype == np.int64


def test_memory_stays_one_batch_however_many_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(npz_module, "COPY_BYTES", 1 << 16)
    npz = NpzWriter(tmp_path / "big.npz", COLUMNS)
    tracemalloc.start()
    try:
        for start in range(0, 90_000, 1_000):  # 90,000 rows: 2.9 MB of vectors, 7.9 MB of names as <U22
            npz.append(**_batch(start, 1_000))
        npz.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 << 20  # a batch and a copy slice (about 2 MB, whatever the rows), never a whole column
    with np.load(tmp_path / "big.npz") as data:
        assert data["ids"][-1] == 89_999 and data["names"].dtype == np.dtype("<U22")
