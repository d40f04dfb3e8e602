"""Query latency (p50, p99) and recall@10 of BindScope's SearchIndex, against brute-force NumPy in the same run.

    python benchmarks/search.py                    # libraries of 10k and 100k vectors of 1024 dimensions
    python benchmarks/search.py --sizes 10000 200000 --queries 300
    python benchmarks/search.py --data hard        # 3,000 clusters, neighbours at nearly equal distance

Each size is a library made through the real import path (Parquet shards in the interchange
schema, imported by ``Workspace.import_embeddings``, which also builds the approximate index), and
searched through ``SearchIndex.search``, the call under every query of the app and the command
line, which includes turning vector rows into item ids in SQLite. The vectors are synthetic unit
vectors drawn around 2,000 cluster centres, like real embeddings (which are far from uniform noise
on the sphere); queries are fresh draws from the same centres. Below the approximate threshold it
also times FAISS's exact IndexFlatIP, the alternative that the BLAS-based exact search replaced.
Libraries of a million items and the index at ten million: benchmarks/archive.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.exchange import write
from engine.modality import Modality
from engine.models.identity import ModelRef
from engine.search_index import APPROXIMATE_FROM
from engine.workspace import Workspace

SHARD_ROWS = 100_000
REF = ModelRef("archive-synthetic", "5e7f" * 8, "Synthetic 1024-d", 1024)


@cache
def centres_of(dim: int, count: int = 2000, seed: int = 0) -> np.ndarray:
    """Random unit cluster centres; data and queries must both be drawn around the same ones."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((count, dim)).astype(np.float32)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def clustered(count: int, dim: int, centres: np.ndarray, rng: np.random.Generator, spread: float = 0.35) -> np.ndarray:
    out = np.empty((count, dim), np.float32)
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        block = (
            centres[rng.integers(len(centres), size=n)]
            + spread * rng.standard_normal((n, dim), dtype=np.float32) / np.sqrt(dim) * 4
        )
        out[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


@dataclass(frozen=True)
class Data:
    """Synthetic unit vectors around cluster centres; queries are fresh draws from the same centres."""

    centres: int
    spread: float  # the noise's length against the centre's: 4 x spread
    description: str

    def draw(self, count: int, rng: np.random.Generator, dim: int = REF.dim) -> np.ndarray:
        return clustered(count, dim, centres_of(dim, self.centres), rng, self.spread)


DATA = {
    "clustered": Data(2000, 0.35, "around 2,000 centres"),
    # More clusters than the index has lists at 1M, and a query's 10th and 11th neighbours ~0.002 apart in
    # cosine (its 50th ~0.04 below its 1st): the index must tell nearly tied neighbours apart.
    "hard": Data(3000, 0.35, "around 3,000 centres, neighbours at nearly equal distance"),
}


def write_shards(folder: Path, vectors: np.ndarray, ref: ModelRef = REF) -> Path:
    """Parquet shards of image items on a drive that is not mounted (item n is the library's id n + 1)."""
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(vectors), SHARD_ROWS):
        rows = range(start, min(len(vectors), start + SHARD_ROWS))
        columns = {
            "modality": [Modality.VISION.value] * len(rows),
            "path": [f"/media/archive/photos/{n // 1000:04d}/{n:07d}.jpg" for n in rows],
            "scale": [16.0] * len(rows),
            "hash": [f"{n:032x}" for n in rows],
            "size": [2_500_000] * len(rows),
            "mtime": [1.7e9 + n for n in rows],
        }
        write(folder / f"part-{start // SHARD_ROWS:05d}.parquet", columns, vectors[rows.start : rows.stop], ref)
    return folder


def brute_force(vectors: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """The rows of the ``k`` best scores, best first: what NumPy alone does for one query."""
    scores = vectors @ query
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


def latencies(search, queries: np.ndarray) -> np.ndarray:
    """Milliseconds per call of ``search(query)``."""
    times = []
    for query in queries:
        start = time.perf_counter()
        search(query)
        times.append(time.perf_counter() - start)
    return np.array(times) * 1000


def measure(vectors: np.ndarray, queries: np.ndarray, k: int, folder: Path) -> str:
    start = time.perf_counter()
    workspace = Workspace.open(folder / "library", create=True)
    workspace.import_embeddings(write_shards(folder / "shards", vectors))
    built = time.perf_counter() - start
    index = workspace.search_index()

    def ours(query: np.ndarray) -> list[int]:
        return [hit.item_id - 1 for hit in index.search(query, k)[Modality.VISION]]

    exact = [brute_force(vectors, q, k) for q in queries]
    recall = np.mean([len(set(e.tolist()) & set(ours(q))) / k for e, q in zip(exact, queries, strict=True)])
    timed = latencies(ours, queries)
    numpy = latencies(lambda q: brute_force(vectors, q, k), queries)
    p50, p99, n50 = np.percentile(timed, 50), np.percentile(timed, 99), np.percentile(numpy, 50)
    kind = "approximate" if index.describe()[Modality.VISION.value]["approximate"] else "exact"
    line = (
        f"{len(vectors):>9,d} {kind:11s} import {built:6.1f} s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
        f"recall@{k} {recall:.3f}  numpy p50 {n50:7.2f} ms  speed-up {n50 / p50:5.1f}x"
    )
    if kind == "exact":
        import faiss

        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        f50 = np.percentile(latencies(lambda q: flat.search(q[None], k), queries), 50)
        line += f"  faiss IndexFlatIP p50 {f50:7.2f} ms ({f50 / p50:.1f}x ours)"
    workspace.close()
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--data", choices=DATA, default="clustered", help="hard: 3,000 clusters, near-tied neighbours")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    data = DATA[args.data]
    print(
        f"# {REF.dim}-d unit vectors {data.description}, k={args.k}, {args.queries} single queries through SearchIndex.search; "
        f"approximate index from {APPROXIMATE_FROM:,} vectors"
    )
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="bindscope-search-") as folder:
            vectors = data.draw(size, rng)
            queries = data.draw(args.queries, rng)
            print(measure(vectors, queries, args.k, Path(folder)), flush=True)


if __name__ == "__main__":
    main()
