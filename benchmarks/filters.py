"""Filters at a million items: a filtered search, a browse page and a map mask through the workspace, and
`bindscope search`/`list` with filter flags, beside the unfiltered search in the same run.

    python benchmarks/filters.py shards --work /tmp/f1m               # 10 Parquet shards of 100k items
    python -m app.cli import /tmp/f1m/shards/part-00000.parquet --library /tmp/f1m/library   # each shard
    python benchmarks/filters.py measure --work /tmp/f1m              # the figures

The library: 1024-d unit vectors around 2,000 centres (benchmarks/search.py's generator), items dated
evenly over 2019-2024 in time order (as an archive is imported), under
``/media/archive/<year>/<month>/``, 60% images, 25% audio, 15% depth. So a year's folder holds a sixth of
the items, a month about 1.4%, and ``*.wav`` a quarter. Shards are written one at a time (4 GB in all)
and imported one at a time by `bindscope import`, each a short command on a shared machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.search import DATA, REF
from engine.exchange import write
from engine.modality import Modality
from engine.workspace import Filter, MapData, Projection, Term, Workspace

SIZE = 1_000_000
SHARD_ROWS = 100_000
START, END = datetime(2019, 1, 1, tzinfo=UTC).timestamp(), datetime(2025, 1, 1, tzinfo=UTC).timestamp()
KINDS = [(Modality.VISION, "jpg", 0.60), (Modality.AUDIO, "wav", 0.25), (Modality.DEPTH, "png", 0.15)]


def columns(rows: range, rng: np.random.Generator) -> dict[str, list]:
    times = START + (np.array(rows, np.float64) + 0.5) * (END - START) / SIZE
    kinds = rng.choice(len(KINDS), size=len(rows), p=[share for *_, share in KINDS])
    paths = []
    for n, when, kind in zip(rows, times.tolist(), kinds.tolist(), strict=True):
        day = datetime.fromtimestamp(when, UTC)
        paths.append(f"/media/archive/{day.year}/{day.month:02d}/{n:07d}.{KINDS[kind][1]}")
    return {
        "modality": [KINDS[k][0].value for k in kinds.tolist()],
        "path": paths,
        "scale": [16.0] * len(rows),
        "hash": [f"{n:032x}" for n in rows],
        "size": [2_500_000] * len(rows),
        "mtime": times.tolist(),
    }


def write_shards(folder: Path, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for start in range(0, size, SHARD_ROWS):
        rows = range(start, min(size, start + SHARD_ROWS))
        path = folder / f"part-{start // SHARD_ROWS:05d}.parquet"
        if not path.exists():
            write(path, columns(rows, rng), DATA["clustered"].draw(len(rows), rng), REF)
        print(path, flush=True)


def timed(call, repeat: int = 5) -> tuple[float, object]:
    """Median milliseconds of ``call()`` and its last value."""
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = call()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times)), value


def recall(workspace, chosen, modality: Modality, queries: np.ndarray) -> float:
    """Mean recall@10 of the filtered search against exact filtered search by NumPy (the passing items' vectors
    read from the store), queries by item."""
    library = workspace.library
    key = library.key_of(library.model)
    ids, _, rows, _ = library.embedded_rows(key, modality)
    passing = np.isin(ids, library.ids_matching(chosen))
    ids, rows = ids[passing], rows[passing]
    vectors = library.store(key).view(modality, library.store_rows(key)[modality])
    found = []
    for item in queries.tolist():
        scores = vectors[rows] @ library.embedding(item, key)[0]
        truth = [int(i) for i in ids[np.lexsort((ids, -scores))][:11] if i != item][:10]
        hits = workspace.search([Term.item(item)], 10, [modality], filter=chosen).results.by_modality[modality]
        found.append(len(set(truth) & {h.item_id for h in hits}) / 10)
    return float(np.mean(found))


def measure(library: Path) -> None:
    def stamp(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

    workspace = Workspace.open(library)
    started = time.perf_counter()
    ids, modalities, _, _ = workspace.library.embedded_rows(workspace.library.key_of(workspace.library.model))
    # The mask's cost depends on the map's ids, not its layout: the layout (UMAP at 1M) is left out.
    data = MapData(Projection(ids, modalities, np.zeros((len(ids), 2), np.float32), "pca"))
    print(f"the map's {len(ids):,} points read in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    workspace.search([Term.item(1)], 10)
    print(f"first search of the process (loads the saved index): {time.perf_counter() - started:.2f} s", flush=True)
    for name, unfiltered in (("unfiltered search", None),):
        ms, _ = timed(lambda u=unfiltered: workspace.search([Term.item(123_457)], 10, filter=u))
        print(f"{name:38s} {ms:7.1f} ms (the baseline, same run)", flush=True)
    filters = {
        "none": Filter(),
        "under a year's folder (1/6)": Filter(under="/media/archive/2021"),
        "a month by date (1.4%)": Filter(since=stamp("2022-03-01"), until=stamp("2022-04-01")),
        "glob *.wav (1/4)": Filter(glob="*.wav"),
        "a month's folder, audio only (0.35%)": Filter(under="/media/archive/2023/07", modalities=(Modality.AUDIO,)),
        "one day (0.05%)": Filter(since=stamp("2020-05-05"), until=stamp("2020-05-06")),
    }
    query = [Term.item(123_457)]
    for name, chosen in filters.items():
        workspace.filtering.forget()
        first, outcome = timed(lambda chosen=chosen: workspace.search(query, 10, filter=chosen), repeat=1)
        again, outcome = timed(lambda chosen=chosen: workspace.search(query, 10, filter=chosen))
        found = {str(m): len(h) for m, h in outcome.results.by_modality.items()}
        count_ms, total = timed(lambda chosen=chosen: workspace.count(chosen), repeat=3)
        page_ms, page = timed(lambda c=chosen, t=total: workspace.listing(c, "date", max(0, t - 100), 100), repeat=3)
        path_ms, _ = timed(lambda c=chosen, t=total: workspace.listing(c, "path", max(0, t - 100), 100), repeat=3)
        mask_ms, mask = timed(lambda chosen=chosen: workspace.map_mask(chosen, data), repeat=3)
        print(
            f"{name:38s} search first {first:7.1f} ms, again {again:6.1f} ms (k=10 per modality: {found}); "
            f"count {count_ms:6.1f} ms ({total:,}); last page of 100 by date {page_ms:6.1f} ms, by path "
            f"{path_ms:6.1f} ms ({len(page)} items); map mask {mask_ms:6.1f} ms ({int(mask.sum()):,} shown)",
            flush=True,
        )
    queries = np.random.default_rng(5).choice(SIZE, 10, replace=False) + 1
    for name, modality in (("under a year's folder (1/6)", Modality.VISION), ("glob *.wav (1/4)", Modality.AUDIO)):
        found = recall(workspace, filters[name], modality, queries)
        print(f"{name}: recall@10 of {modality.value} {found:.3f} against exact filtered search (NumPy)", flush=True)
    cli = [sys.executable, "-m", "app.cli"]
    for args in (
        ["search", "--item", "123457"],
        ["search", "--item", "123457", "--under", "/media/archive/2021", "--since", "2021-06-01", "--min-score", "0.2"],
        ["list", "--under", "/media/archive/2022/03", "--sort", "date", "--offset", "5000", "--limit", "20"],
    ):
        start = time.perf_counter()
        subprocess.run([*cli, *args, "--library", str(library), "--json"], check=True, capture_output=True)
        print(f"bindscope {' '.join(args)}: {time.perf_counter() - start:.2f} s (a cold process)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["shards", "measure"])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--size", type=int, default=SIZE)
    args = parser.parse_args()
    if args.step == "shards":
        write_shards(args.work / "shards", args.size)
    else:
        measure(args.work / "library")


if __name__ == "__main__":
    main()
