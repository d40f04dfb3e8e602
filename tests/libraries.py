"""Libraries made of synthetic vectors, built through the real import path (Parquet in the interchange schema)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.exchange import import_embeddings, write
from engine.library import Library
from engine.models.identity import ModelRef


def clustered(count: int, dim: int = 64, clusters: int = 50, seed: int = 0) -> np.ndarray:
    """Unit vectors around cluster centres, like real embeddings (not uniform noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    vectors = centres[rng.integers(clusters, size=count)] + 0.6 * rng.normal(size=(count, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def synthetic_ref(dim: int, name: str = "synthetic") -> ModelRef:
    return ModelRef(name, (name.encode().hex() + "0" * 32)[:32], name.title(), dim)


def shard(path: Path, vectors: np.ndarray, modalities, ref: ModelRef, first: int = 0, folder: str = "/archive") -> Path:
    """A Parquet file of files ``folder/<n>.<modality>`` (unreachable paths are fine) with these vectors."""
    modalities = list(modalities)
    columns = {
        "modality": modalities,
        "path": [f"{folder}/{first + n:07d}.{m}" for n, m in enumerate(modalities)],
        "scale": [1.0] * len(modalities),
        "hash": [f"h{first + n}" for n in range(len(modalities))],
    }
    return write(path, columns, vectors, ref)


def library_of(folder: Path, vectors: np.ndarray, modalities, ref: ModelRef | None = None) -> Library:
    """A library holding these vectors (item ids 1..N in order), made by importing a Parquet file."""
    ref = ref or synthetic_ref(vectors.shape[1])
    folder.mkdir(parents=True, exist_ok=True)
    library = Library(folder / "lib")
    import_embeddings(library, shard(folder / "vectors.parquet", vectors, modalities, ref))
    return library


def stored_vectors(library: Library) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item ids, modalities, vectors) of every embedded item of the library's model, read from its store."""
    from engine.modality import Modality

    key = library.model.key
    ids, modalities, rows, _ = library.embedded_rows(key)
    store, committed = library.store(key), library.store_rows(key)
    vectors = np.empty((len(ids), store.dim), np.float32)
    for name in np.unique(modalities):
        mask = modalities == name
        vectors[mask] = store.gather(Modality(str(name)), committed[Modality(str(name))], rows[mask])
    return ids, modalities, vectors
