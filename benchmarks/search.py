"""Query latency (p50, p99) and recall@10 of BindScope's vector index, against brute-force NumPy in the same run.

    python benchmarks/search.py                    # 10k, 100k and 1M vectors of 1024 dimensions
    python benchmarks/search.py --sizes 10000 100000 --queries 300

The vectors are synthetic unit vectors drawn around 2,000 cluster centres, like real embeddings
(which are far from uniform noise on the sphere); queries are fresh draws from the same clusters.
Targets: exact (flat) search at 100k under 30 ms; k=10 over 1M under 20 ms p50 with recall@10 >= 0.95.
Below the approximate threshold it also times FAISS's own exact IndexFlatIP, the alternative that
BindScope's BLAS-based exact search replaced.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.index import APPROXIMATE_FROM, ExactIndex, build_search_index


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


def latencies(search, queries: np.ndarray) -> np.ndarray:
    times = []
    for query in queries:
        start = time.perf_counter()
        search(query[None])
        times.append(time.perf_counter() - start)
    return np.array(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2000, args.dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    print(
        f"# {args.dim}-d unit vectors, k={args.k}, {args.queries} single queries; approximate index from {APPROXIMATE_FROM:,} vectors"
    )
    for size in args.sizes:
        print(
            measure(clustered(size, args.dim, centres, rng), clustered(args.queries, args.dim, centres, rng), args.k),
            flush=True,
        )


def measure(vectors: np.ndarray, queries: np.ndarray, k: int) -> str:
    start = time.perf_counter()
    index = build_search_index(vectors)
    built = time.perf_counter() - start

    def brute(query: np.ndarray) -> np.ndarray:
        scores = vectors @ query[0]
        top = np.argpartition(-scores, k)[:k]
        return top[np.argsort(-scores[top])]

    exact = np.stack([brute(q[None]) for q in queries])
    _, found = index.search(queries, k)
    recall = np.mean([len(set(e) & set(f)) / k for e, f in zip(exact, found, strict=True)])
    ours = latencies(lambda q: index.search(q, k), queries)
    numpy = latencies(brute, queries)
    p50, p99, n50 = np.percentile(ours, 50), np.percentile(ours, 99), np.percentile(numpy, 50)
    line = (
        f"{len(vectors):>9,d} {type(index).__name__:13s} build {built:6.1f} s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
        f"recall@{k} {recall:.3f}  numpy p50 {n50:7.2f} ms  speed-up {n50 / p50:5.1f}x"
    )
    if isinstance(index, ExactIndex):
        import faiss

        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        f50 = np.percentile(latencies(lambda q: flat.search(q, k), queries), 50)
        line += f"  faiss IndexFlatIP p50 {f50:7.2f} ms ({f50 / p50:.1f}x ours)"
    return line


if __name__ == "__main__":
    main()
