"""Inner-product search over a library's embeddings for one model, one FAISS index per modality.

Per-modality indexes make "the top k of each requested modality" exact and cheap, and "the
top k across all" an exact merge of those. Below ``APPROXIMATE_FROM`` vectors a modality is
searched exactly; above, a FAISS IVF index (sqrt-scaled lists, probed widely enough for
recall@10 >= 0.95, measured in the tests and benchmarks/search.py) is built. Exact search is a
BLAS matrix-vector product rather than FAISS's IndexFlatIP, which benchmarks/search.py measured
about twice as slow for the single queries an analyst makes (100k x 1024: 30 ms against 14 ms).
The index is a cache: saved beside the library under a state token and rebuilt when the
library changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.modality import Modality

APPROXIMATE_FROM = 200_000
_TRAIN_SAMPLE = 64


@dataclass(frozen=True)
class Hit:
    item_id: int
    score: float
    modality: Modality


def _faiss():
    import faiss

    return faiss


class ExactIndex:
    """Exhaustive inner-product search with FAISS's ``search(queries, k) -> (scores, rows)`` shape."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = np.ascontiguousarray(vectors, np.float32)

    @property
    def ntotal(self) -> int:
        return len(self.vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.asarray(queries, np.float32) @ self.vectors.T
        k = min(k, scores.shape[1])
        if k < scores.shape[1]:
            rows = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        else:
            rows = np.broadcast_to(np.arange(k), scores.shape).copy()
        top = np.take_along_axis(scores, rows, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1), np.take_along_axis(rows, order, axis=1)


def build_search_index(vectors: np.ndarray, approximate_from: int = APPROXIMATE_FROM, nprobe: int | None = None):
    """Exact search for small sets, FAISS IVF-Flat for large ones (lists ~ 2 sqrt(N), probes ~ lists / 24)."""
    count, dim = vectors.shape
    if count < approximate_from:
        return ExactIndex(vectors)
    faiss = _faiss()
    lists = int(2 * np.sqrt(count))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10  # k-means converges enough for routing; 25 (the default) triples the build
    rng = np.random.default_rng(0)
    sample = vectors[rng.choice(count, size=min(count, lists * _TRAIN_SAMPLE), replace=False)]
    index.train(sample)
    index.add(vectors)
    index.nprobe = nprobe or max(16, lists // 24)
    return index


class VectorIndex:
    """Per-modality search indexes over one model's embeddings, each with the item ids of its rows."""

    def __init__(self, parts: dict[Modality, tuple[np.ndarray, object]]):
        self._parts = parts

    @classmethod
    def build(
        cls, ids: np.ndarray, modalities: np.ndarray, vectors: np.ndarray, approximate_from: int = APPROXIMATE_FROM
    ) -> VectorIndex:
        ids, modalities = np.asarray(ids, np.int64), np.asarray(modalities)
        vectors = np.ascontiguousarray(vectors, np.float32)
        parts = {}
        for modality in Modality:
            rows = np.flatnonzero(modalities == modality.value)
            if rows.size:
                parts[modality] = (ids[rows], build_search_index(vectors[rows], approximate_from))
        return cls(parts)

    def __len__(self) -> int:
        return sum(len(ids) for ids, _ in self._parts.values())

    def counts(self) -> dict[Modality, int]:
        return {m: len(ids) for m, (ids, _) in self._parts.items()}

    def search(
        self, query: np.ndarray, k: int = 10, modalities: list[Modality] | None = None, exclude: set[int] | None = None
    ) -> dict[Modality, list[Hit]]:
        """The ``k`` nearest items of each requested modality (all by default), best first."""
        query = np.ascontiguousarray(np.asarray(query, np.float32).reshape(1, -1))
        exclude = exclude or set()
        out: dict[Modality, list[Hit]] = {}
        for modality in modalities or list(self._parts):
            if modality not in self._parts:
                out[modality] = []
                continue
            ids, index = self._parts[modality]
            scores, rows = index.search(query, min(len(ids), k + len(exclude)))
            hits = [
                Hit(int(ids[r]), float(s), modality)
                for s, r in zip(scores[0], rows[0], strict=True)
                if r >= 0 and int(ids[r]) not in exclude
            ]
            out[modality] = hits[:k]
        return out

    def search_all(
        self, query: np.ndarray, k: int = 10, modalities: list[Modality] | None = None, exclude: set[int] | None = None
    ) -> list[Hit]:
        """The ``k`` nearest items across the requested modalities: an exact merge of per-modality results."""
        merged = [hit for hits in self.search(query, k, modalities, exclude).values() for hit in hits]
        return sorted(merged, key=lambda h: -h.score)[:k]

    def save(self, folder: Path, token: str) -> None:
        """Write each modality's index and ids, then the token last: a half-written cache is never taken as valid."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "token").unlink(missing_ok=True)
        for modality, (ids, index) in self._parts.items():
            for stale in (folder / f"{modality.value}.faiss", folder / f"{modality.value}.vectors.npy"):
                stale.unlink(missing_ok=True)
            if isinstance(index, ExactIndex):
                np.save(folder / f"{modality.value}.vectors.npy", index.vectors)
            else:
                _faiss().write_index(index, str(folder / f"{modality.value}.faiss"))
            np.save(folder / f"{modality.value}.ids.npy", ids)
        (folder / "modalities").write_text(",".join(m.value for m in self._parts))
        (folder / "token").write_text(token)

    @classmethod
    def load(cls, folder: Path, token: str) -> VectorIndex | None:
        """The saved index if it was saved under ``token``; None when missing, stale or unreadable."""
        try:
            if (folder / "token").read_text() != token:
                return None
            names = [n for n in (folder / "modalities").read_text().split(",") if n]
            parts = {}
            for name in names:
                exact = folder / f"{name}.vectors.npy"
                index = (
                    ExactIndex(np.load(exact)) if exact.exists() else _faiss().read_index(str(folder / f"{name}.faiss"))
                )
                parts[Modality(name)] = (np.load(folder / f"{name}.ids.npy"), index)
            return cls(parts)
        except (OSError, ValueError, RuntimeError):
            return None
