"""Export and import through the command line at archive sizes: wall time and peak memory of
``python main.py import`` and ``python main.py export``, each beside pyarrow alone on the same file.

    python benchmarks/exchange.py                 # 100,000 rows of 1024-d vectors
    python benchmarks/exchange.py --rows 1000000  # a million (about 4 GB of vectors)

The input is benchmarks/search.py's clustered 1024-d vectors as Parquet shards of 100k rows in the
interchange schema (image items on a drive that is not mounted). Baselines, same files, same run:
import, ``pyarrow.parquet.read_table`` of every shard; export, ``pyarrow.parquet.write_table`` of what
was read. Peak memory is each child's maximum resident set from ``/usr/bin/time``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.search import centres_of, clustered, write_shards

ROOT = Path(__file__).resolve().parents[1]
MAIN = [sys.executable, str(ROOT / "main.py")]
BASELINE_READ = "import pyarrow.parquet as pq, sys; t = pq.read_table(sys.argv[1])"
BASELINE_WRITE = (
    "import pyarrow.parquet as pq, sys; pq.write_table(pq.read_table(sys.argv[1]), sys.argv[2], compression='zstd')"
)


def measured(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident GB of a command run to its end."""
    with tempfile.NamedTemporaryFile("w+") as peak:
        start = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name, *command], capture_output=True, cwd=ROOT)
        seconds = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr.decode()[-3000:]}")
        return seconds, int(peak.read().split()[-1]) / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=None, help="a folder for the files (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        work = Path(work)
        vectors = clustered(args.rows, 1024, centres_of(1024), np.random.default_rng(1))
        shards = write_shards(work / "shards", vectors)
        del vectors
        first = sorted(shards.glob("*.parquet"))[0]
        library, out = work / "library", work / "export.parquet"
        figures = {
            "import": measured([*MAIN, "import", str(shards), "--library", str(library)]),
            "import baseline (pyarrow read, first shard)": measured([sys.executable, "-c", BASELINE_READ, str(first)]),
            "export": measured([*MAIN, "export", "--out", str(out), "--library", str(library)]),
            "export baseline (pyarrow rewrite, first shard)": measured(
                [sys.executable, "-c", BASELINE_WRITE, str(first), str(work / "copy.parquet")]
            ),
        }
        print(f"{args.rows:,} rows x 1024")
        for name, (seconds, peak) in figures.items():
            print(f"  {name:48s} {seconds:7.2f} s  {peak:6.2f} GB peak")


if __name__ == "__main__":
    main()
