"""The vector files: gathered rows, scattered or in one run, are exactly the mapped rows."""

from __future__ import annotations

import numpy as np
import pytest

from engine.modality import Modality
from engine.vectors import VectorStore


def test_scattered_reads_equal_the_mapped_rows_in_the_order_asked(tmp_path):
    store = VectorStore(tmp_path, "model", 24)
    vectors = np.random.default_rng(0).normal(size=(500, 24)).astype(np.float32)
    store.append(Modality.AUDIO, 0, vectors)
    picks = np.array([499, 3, 250, 3, 0, 77])
    assert np.array_equal(store.gather(Modality.AUDIO, 500, picks), vectors[picks])
    assert np.array_equal(store.gather(Modality.AUDIO, 500, np.arange(10, 40)), vectors[10:40])
    assert store.gather(Modality.AUDIO, 500, np.array([], np.int64)).shape == (0, 24)


def test_a_row_past_the_committed_count_is_refused(tmp_path):
    store = VectorStore(tmp_path, "model", 8)
    store.append(Modality.VISION, 0, np.ones((10, 8), np.float32))
    with pytest.raises(IndexError):
        store.gather(Modality.VISION, 5, np.array([2, 7]))
