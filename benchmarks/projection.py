"""Time to the map: the PCA preview and the finished UMAP, for 10k and 50k points, with a baseline.

    python benchmarks/projection.py
    python benchmarks/projection.py --sizes 10000 --dim 1024

The baseline is exact PCA (full SVD in NumPy) on the same data in the same run; the preview uses
randomised PCA. UMAP is timed in a fresh state of this process: its first call includes Numba's
compilation (the functions not cached on disk by Numba, some seconds in every new process).
Targets: preview under 1 s for 50k; UMAP of 10k under 20 s on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.projection import pca_coords, umap_coords


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--umap-up-to", type=int, default=50_000, help="skip UMAP above this many points")
    args = parser.parse_args()
    start = time.perf_counter()
    import sklearn.decomposition  # noqa: F401  (imported once per process, before the first preview)

    print(f"# importing scikit-learn: {time.perf_counter() - start:.2f} s, not counted below", flush=True)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, args.dim)).astype(np.float32)
    for size in args.sizes:
        vectors = centres[rng.integers(40, size=size)] + 0.5 * rng.standard_normal((size, args.dim), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        start = time.perf_counter()
        pca_coords(vectors)
        preview = time.perf_counter() - start
        start = time.perf_counter()
        centred = vectors - vectors.mean(axis=0)
        np.linalg.svd(centred, full_matrices=False)
        exact = time.perf_counter() - start
        line = f"{size:>7,d} points  PCA preview {preview:6.2f} s  (exact SVD {exact:6.2f} s, {exact / preview:5.1f}x slower)"
        if size <= args.umap_up_to:
            start = time.perf_counter()
            umap_coords(vectors)
            line += f"  UMAP {time.perf_counter() - start:6.1f} s"
        print(line, flush=True)


if __name__ == "__main__":
    main()
