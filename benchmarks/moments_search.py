"""Moments search at a million segments, through the paths a person uses, beside brute-force NumPy in the same run.

    python benchmarks/moments_search.py --work /tmp/moments-1m                 # all phases (several minutes)
    python benchmarks/moments_search.py --work /tmp/moments-1m --phase make    # the phases one at a time
    python benchmarks/moments_search.py --work /tmp/moments-1m --phase import
    python benchmarks/moments_search.py --work /tmp/moments-1m --phase search

A library of 1,000 one-hour recordings is about 1.2M windows (issue 18). Here: ``--files`` audio
files of ``--windows`` windows each (default 1,000 x 1,000 = 1M segments, 6 s windows every 3 s),
1024-d unit vectors (ImageBind-huge's width) around 2,000 centres (benchmarks/search.py's
generator); a recording stays on one centre for a run of 20 windows, as overlapping windows of one
scene do. ``make`` writes them as Parquet shards in the interchange schema, each file's row before
its windows' rows; ``import`` runs ``bindscope import`` in a child process (the import path, which
also builds the segment index); ``search`` times ``Workspace.search(..., moments=True)`` for a
query by item (p50, p99, recall@10 of the moments against exact search over every segment vector),
NumPy's brute force over the same vectors in memory, and a cold ``bindscope search --item ID
--moments --json`` process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.search import REF, centres_of
from engine.exchange import write
from engine.modality import Modality

K = 10
RUN = 20  # windows of one recording around one centre
SPREAD = 0.35
HOP, WINDOW = 3.0, 6.0
FILES_PER_SHARD = 100
BINDSCOPE = [sys.executable, "-m", "app.cli"]
ROOT = Path(__file__).resolve().parents[1]


def recording(n: int, windows: int, rng: np.random.Generator) -> np.ndarray:
    """Recording ``n``'s file vector and its windows' vectors: runs of ``RUN`` windows around one centre each."""
    centres = centres_of(REF.dim)
    runs = centres[rng.integers(len(centres), size=-(-(windows + 1) // RUN))]
    base = np.repeat(runs, RUN, axis=0)[: windows + 1]
    noisy = base + SPREAD * rng.standard_normal(base.shape, dtype=np.float32) / np.sqrt(REF.dim) * 4
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def make(work: Path, files: int, windows: int) -> None:
    shards = work / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for first in range(0, files, FILES_PER_SHARD):
        columns: dict[str, list] = {
            k: [] for k in ("modality", "path", "scale", "hash", "size", "mtime", "start", "end")
        }
        vectors = []
        for n in range(first, min(files, first + FILES_PER_SHARD)):
            rows = recording(n, windows, rng)
            path, content = f"/media/field/{n // 100:03d}/recording-{n:05d}.flac", f"{n:032x}"
            spans = [(None, None)] + [(w * HOP, w * HOP + WINDOW) for w in range(windows)]
            for start, end in spans:
                columns["modality"].append(Modality.AUDIO.value)
                columns["path"].append(path)
                columns["scale"].append(16.0)
                columns["hash"].append(content)
                columns["size"].append(115_200_000)
                columns["mtime"].append(1.7e9 + n)
                columns["start"].append(start)
                columns["end"].append(end)
            vectors.append(rows)
        write(shards / f"part-{first // FILES_PER_SHARD:05d}.parquet", columns, np.concatenate(vectors), REF)
    print(f"make: {files:,} files x {windows:,} windows in {time.perf_counter() - started:.0f} s", flush=True)


def import_library(work: Path) -> None:
    started = time.perf_counter()
    out = subprocess.run(
        [*BINDSCOPE, "import", str(work / "shards"), "--library", str(work / "library"), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout)
    print(f"import: {time.perf_counter() - started:.0f} s ({report})", flush=True)


def search(work: Path, queries: int) -> None:
    from engine.query import Term
    from engine.workspace import Workspace

    workspace = Workspace.open(work / "library")
    library = workspace.library
    key = library.key_of(library.model)
    rows = library.segment_rows(key)[Modality.AUDIO]
    print(f"search: {rows:,} segments; index {workspace.segment_index().describe()}", flush=True)
    vectors = np.array(library.segment_store(key).view(Modality.AUDIO, rows))  # the brute force's copy, in memory
    rng = np.random.default_rng(1)
    files = library.count()
    picked = rng.choice(np.arange(1, files + 1), size=queries, replace=False).tolist()
    ours, numpy, recall = [], [], []
    for item_id in picked:
        started = time.perf_counter()
        found = workspace.search([Term.item(item_id)], k=K, moments=True).moments
        ours.append(time.perf_counter() - started)
        query = library.embedding(item_id, key)[0]
        started = time.perf_counter()
        scores = vectors @ query
        top = np.argpartition(-scores, K + 1000)[: K + 1000]
        top = top[np.argsort(-scores[top])]
        numpy.append(time.perf_counter() - started)
        owners = library.segments_at_rows(key, Modality.AUDIO, top.tolist())
        exact = [(o, s, e) for row in top.tolist() for o, s, e in owners.get(row, []) if o != item_id][:K]
        recall.append(len(set(exact) & {(m.item_id, m.start, m.end) for m in found}) / K)
    ms = np.array(ours) * 1000
    print(
        f"Workspace.search(moments=True), k={K}, {queries} queries by item: p50 {np.percentile(ms, 50):.1f} ms, "
        f"p99 {np.percentile(ms, 99):.1f} ms, recall@10 {np.mean(recall):.3f}; NumPy brute force in memory "
        f"p50 {np.percentile(np.array(numpy) * 1000, 50):.1f} ms",
        flush=True,
    )
    workspace.close()
    started = time.perf_counter()
    out = subprocess.run(
        [*BINDSCOPE, "search", "--library", str(work / "library"), "--item", str(picked[0]), "--moments", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    cold = time.perf_counter() - started
    first = json.loads(out.stdout)["moments"][0]
    print(f"cold `bindscope search --item {picked[0]} --moments --json`: {cold:.2f} s (top: {first})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="where the shards and the library go")
    parser.add_argument("--phase", choices=["make", "import", "search", "all"], default="all")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--windows", type=int, default=1000, help="windows a file")
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    if args.phase in ("make", "all"):
        make(args.work, args.files, args.windows)
    if args.phase in ("import", "all"):
        import_library(args.work)
    if args.phase in ("search", "all"):
        search(args.work, args.queries)


if __name__ == "__main__":
    main()
