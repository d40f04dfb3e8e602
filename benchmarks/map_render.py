"""Is the map smooth at 100k points? Frame times of pans and zooms, 100k points against a 10k baseline.

    QT_QPA_PLATFORM=offscreen python benchmarks/map_render.py

Each frame moves or zooms the view and renders the plot widget to an image (what a repaint costs);
prints the median and 95th-percentile frame time per size and their ratio to the baseline.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from app.gui.map_view import MapView
    from app.gui.previews import PreviewLoader
    from app.gui.session import MapData
    from engine.library import Item
    from engine.modality import Modality
    from engine.projection import Projection

    results = {}
    for count in (10_000, 100_000):
        rng = np.random.default_rng(0)
        modalities = np.array([m.value for m in Modality])[rng.integers(6, size=count)]
        coords = rng.normal(size=(count, 2)).astype(np.float32) * 3
        projection = Projection(np.arange(count), modalities, coords, "umap")
        view = MapView(PreviewLoader())
        view.resize(900, 700)
        view.show()
        start = time.perf_counter()
        view.set_data(
            MapData(
                projection, {i: Item(i, Modality(modalities[i]), f"/{i}", None, "h", "embedded") for i in range(count)}
            )
        )
        app.processEvents()
        setup = time.perf_counter() - start
        frames = []
        for step in range(40):
            start = time.perf_counter()
            if step % 2:
                view.viewbox.translateBy(x=0.2, y=0.1)
            else:
                view.viewbox.scaleBy((0.9, 0.9) if step < 20 else (1.1, 1.1))
            view.plot.grab()
            frames.append(time.perf_counter() - start)
        results[count] = np.array(frames) * 1000
        print(
            f"{count:>7,d} points  set-up {setup:5.2f} s  frame median {np.median(results[count]):6.1f} ms  "
            f"p95 {np.percentile(results[count], 95):6.1f} ms",
            flush=True,
        )
        view.close()
    ratio = np.median(results[100_000]) / np.median(results[10_000])
    print(f"100k vs 10k median frame time: {ratio:.1f}x")


if __name__ == "__main__":
    main()
