"""Issue 17's walkthrough at a million items, timed in the real window: first open to a usable model, a text query
while the map is computed, Browse pages, a filter change, a filtered query, a re-sort.

    python benchmarks/workbench.py fill --work /tmp/wb            # a library of 1,000,576 items (about 5 min)
    python benchmarks/workbench.py measure --work /tmp/wb         # the figures (a fresh copy: a first open)

The library is bound to the demo model, so text and file queries run: ``bindscope demo`` and ``bindscope index``
make a real gallery (576 files), ``bindscope export`` gives its vectors, and 1,000,000 rows around them (noise,
renormalised) are written as Parquet shards in the interchange schema (paths on an archive drive that is not
mounted, eight folders, dates over 2019-2025, the six modalities evenly) and imported by ``bindscope import``.

``measure`` opens a ``MainWindow`` (1280x720; under ``QT_QPA_PLATFORM=offscreen`` when there is no display) on a
copy of the library made before any window opened it, drives it with QTest input and the state model, and times
each step to the moment its result is on screen. Beside the window, in the same run: the same searches through
``Workspace.search`` (the call the window's job makes) and by brute force in NumPy over the shards' vectors.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLI = [sys.executable, "-m", "app.cli"]
FOLDERS = ["field-2019", "field-2020", "studio", "drone", "phones/alice", "phones/bob", "survey/north", "survey/south"]
FILTER_FOLDER = "/media/archive/drone"
SUFFIX = {"vision": "jpg", "audio": "wav", "depth": "png", "thermal": "png", "imu": "csv", "text": "txt"}
STEP = 100_000


def run_cli(*args) -> float:
    start = time.perf_counter()
    subprocess.run([*CLI, *map(str, args)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def fill(work: Path, items: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    library, gallery, export = work / "library", work / "gallery", work / "gallery.parquet"
    if not export.exists():
        print(f"demo gallery {run_cli('demo', '--out', gallery):.1f} s", flush=True)
        print(f"index {run_cli('index', gallery, '--library', library):.1f} s", flush=True)
        print(f"export {run_cli('export', '--library', library, '--out', export):.1f} s", flush=True)
    base = pq.read_table(export)
    vectors = np.stack(base.column("embedding").to_numpy(zero_copy_only=False)).astype(np.float32)
    modalities, paths = base.column("modality").to_pylist(), base.column("path").to_pylist()
    rng = np.random.default_rng(7)
    shards = work / "shards"
    shards.mkdir(exist_ok=True)
    for first in range(0, items, STEP):
        out = shards / f"s{first:07d}.parquet"
        if out.exists():
            continue
        count = min(STEP, items - first)
        source = rng.integers(0, len(vectors), count)
        noisy = vectors[source] + rng.normal(0, 0.35 / np.sqrt(vectors.shape[1]), (count, vectors.shape[1]))
        noisy = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
        kinds = [modalities[s] for s in source]
        folders = rng.integers(0, len(FOLDERS), count)
        names = [
            f"/media/archive/{FOLDERS[folders[n]]}/{Path(paths[source[n]]).stem}-{first + n:07d}.{SUFFIX[kinds[n]]}"
            for n in range(count)
        ]
        values = {
            "embedding": list(noisy),
            "id": np.arange(first, first + count),
            "modality": kinds,
            "path": names,
            "path_bytes": [name.encode() for name in names],
            "hash": [f"{first + n:032x}" for n in range(count)],
            "scale": np.ones(count),
            "size": rng.integers(20_000, 4_000_000, count),
            "mtime": rng.uniform(1546300800, 1764547200, count),  # 2019-01-01 .. 2025-12-01
        }
        columns = {
            field.name: pa.array(values[field.name], type=field.type)
            if field.name in values
            else pa.nulls(count, type=field.type)
            for field in base.schema
        }
        pq.write_table(pa.table(columns, schema=base.schema), out)
    start = time.perf_counter()
    for shard in sorted(shards.glob("*.parquet")):
        run_cli("import", shard, "--library", library)
    print(f"bindscope import of {items:,} rows: {time.perf_counter() - start:.1f} s", flush=True)
    shutil.copytree(library, work / "unopened", dirs_exist_ok=True)


class Window:
    """The real window on a library, and a clock for each step."""

    def __init__(self, library: Path, settings: Path):
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        self.app = QApplication.instance() or QApplication([])
        from app.gui.main_window import MainWindow

        self.start = time.perf_counter()
        self.window = MainWindow(QSettings(str(settings), QSettings.Format.IniFormat), library=str(library))
        self.window.resize(1280, 720)
        self.window.show()
        self.seen: dict[str, float] = {}

    def wait(self, done, seconds: float = 900) -> None:
        end = time.monotonic() + seconds
        while not done():
            if time.monotonic() > end:
                raise TimeoutError("the window did not get there")
            self.app.processEvents()
            time.sleep(0.003)

    def timed(self, name: str, act, done) -> float:
        start = time.perf_counter()
        act()
        self.wait(done)
        took = time.perf_counter() - start
        print(f"  {name}: {took:.3f} s", flush=True)
        return took

    def watch_opening(self, until) -> None:
        w = self.window
        marks = {
            "library shown": lambda: w.summary is not None,
            "model ready (text and file queries run)": lambda: w.model_ready,
            "map drawn (PCA preview)": lambda: w.map_data is not None,
            "map finished (UMAP), engine idle": lambda: w.summary is not None and w.jobs.is_idle(),
        }

        def check() -> bool:
            for name, reached in marks.items():
                if name not in self.seen and reached():
                    self.seen[name] = time.perf_counter() - self.start
                    print(f"  {name}: {self.seen[name]:.2f} s after the window was made", flush=True)
            return until()

        self.wait(check)


def tree_node(tree, top_text: str, child_text: str):
    for n in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(n)
        if top.text(0).startswith(top_text):
            return next(top.child(c) for c in range(top.childCount()) if child_text in top.child(c).text(0))
    raise LookupError(top_text)


def baselines(work: Path) -> None:
    """The same two searches through ``Workspace.search`` and by brute force in NumPy, in this process."""
    import pyarrow.parquet as pq

    from engine.filters import Filter
    from engine.workspace import Term, Workspace

    workspace = Workspace.open(work / "run")
    chosen = Filter(under=FILTER_FOLDER)
    for name, filter in (("text query", None), ("same, filtered by folder", chosen)):
        workspace.search([Term.text("a dog")], 4, filter=filter)
        start = time.perf_counter()
        workspace.search([Term.text("a dog")], 4, filter=filter)
        print(f"  Workspace.search, {name}: {(time.perf_counter() - start) * 1000:.0f} ms", flush=True)
    tables = [pq.read_table(s, columns=["path", "embedding"]) for s in sorted((work / "shards").glob("*.parquet"))]
    vectors = np.concatenate([np.stack(t.column("embedding").to_numpy(zero_copy_only=False)) for t in tables])
    paths = np.concatenate([np.asarray(t.column("path").to_pylist()) for t in tables])
    query = workspace.searcher().embed_term(Term.text("a dog")).vector
    for name, mask in (("all", None), ("filtered by folder", np.char.startswith(paths, FILTER_FOLDER + "/"))):
        start = time.perf_counter()
        scores = vectors @ query if mask is None else vectors[mask] @ query
        np.argpartition(-scores, 24)[:24]
        print(f"  NumPy brute force, {name}: {(time.perf_counter() - start) * 1000:.0f} ms", flush=True)
    workspace.close()


def measure(work: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    run = work / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(work / "unopened", run)
    print("The window (1280x720), first open of the library:", flush=True)
    window = Window(run, work / "settings.ini")
    w = window.window
    window.watch_opening(lambda: w.model_ready)
    window.timed(
        "text query 'a dog', results on screen (the map still computing)",
        lambda: w.composer.add_text("a dog"),
        lambda: w.outcome is not None and bool(w.outcome.items),
    )
    window.watch_opening(lambda: "map finished (UMAP), engine idle" in window.seen)
    tree = w.library_panel.tree
    images = tree_node(tree, "Outside the folders", "Image")
    tree.scrollToItem(images)
    browse = w.browse.browse
    window.timed(
        "tree click on 'Image', Browse's first page",
        lambda: QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(images).center()),
        lambda: browse.total > 0 and browse.item(0) is not None,
    )
    last = browse.total - 1
    w.browse.grid.setFocus()
    window.timed(
        f"End, the last page ({browse.total:,} items)",
        lambda: QTest.keyClick(w.browse.grid, Qt.Key.Key_End),
        lambda: browse.item(last) is not None,
    )
    window.timed(
        f"folder filter {FILTER_FOLDER}: Browse's first page",
        lambda: w.session.filters.set(under=FILTER_FOLDER),
        lambda: 0 < browse.total < last and browse.item(0) is not None,
    )
    newest = next(n for n in range(w.browse.order.count()) if w.browse.order.itemData(n) == ("date", True))
    window.timed(
        "re-sort newest first (filtered)",
        lambda: w.browse.order.activated.emit(newest),  # as a choice in the combo box
        lambda: browse.sort == "date" and browse.item(0) is not None,
    )
    before = w.outcome
    window.timed(
        "add 'a bell' x0.5 to the query: the filtered search on screen",
        lambda: w.composer.add_text("a bell", 0.5),
        lambda: w.outcome is not before and w.outcome is not None,
    )
    window.timed(
        "filter cleared: Browse's first page", w.session.filters.clear, lambda: browse.total > last and browse.item(0)
    )
    window.timed("close", w.close, lambda: True)
    print("Beside it, the engine's calls and NumPy (same library, same run):", flush=True)
    baselines(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=["fill", "measure"])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    args.work.mkdir(parents=True, exist_ok=True)
    fill(args.work, args.items) if args.phase == "fill" else measure(args.work)


if __name__ == "__main__":
    main()
