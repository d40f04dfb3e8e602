"""Does the map stay smooth at a million points? Frame times of pans and zooms at 10k, 100k and 1M points.

    QT_QPA_PLATFORM=offscreen python benchmarks/map_render.py
    QT_QPA_PLATFORM=offscreen python benchmarks/map_render.py --screenshot docs/map_million.png

The points are synthetic blobs of mixed modalities, like a library's UMAP. Each frame pans or zooms the view and
renders the plot widget to an image (what a repaint costs, including the density image or the visible dots). Pans of
about 15 pixels a frame go over the whole map, over a quarter of it, and among real dots zoomed in; zooms go from the
quarter into one blob and back out, past the point where dots replace the density image. Also timed: setting the data
(index and first frame), a hover (a mouse move over the plot, through Qt's event delivery) and a lasso of 400 vertices
round about a sixth of the points, with the frame after it. The baseline, in the same run, is the previous view: one
pyqtgraph ScatterPlotItem per colour holding every point. The machine's load average is printed with the figures.
With --screenshot, the view holding a million points is saved as a PNG instead.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QMouseEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# PySide6 6.12 returns None from void methods, and True from Signal.emit, without taking a reference, so on Python
# 3.11 every such call drops one (3.12 made these objects immortal). A few thousand frames would free None and abort
# the run; make None, True and False as good as immortal here, as Python 3.12 does.
if sys.version_info < (3, 12):
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40

SIZES = (10_000, 100_000, 1_000_000)
WIDTH, HEIGHT = 900, 700
WHOLE_MAP = QRectF(-13, -13, 26, 26)  # the synthetic map lies within it


def synthetic_map(count: int, seed: int = 0):
    """Blobs of varied size and spread, each mostly one modality, over a faint uniform background."""
    from engine.modality import Modality
    from engine.workspace import MapData, Projection

    rng = np.random.default_rng(seed)
    names = np.array([m.value for m in Modality])
    blobs = 48
    centres = rng.uniform(-10, 10, size=(blobs, 2))
    spreads = rng.uniform(0.15, 1.1, size=blobs)
    weights = rng.pareto(1.5, size=blobs) + 0.2
    main = rng.choice(len(names), size=blobs, p=[0.35, 0.25, 0.15, 0.1, 0.1, 0.05])
    background = count // 50
    blob = rng.choice(blobs, size=count - background, p=weights / weights.sum())
    coords = np.concatenate(
        [centres[blob] + rng.normal(size=(len(blob), 2)) * spreads[blob, None], rng.uniform(-12, 12, (background, 2))]
    ).astype(np.float32)
    kinds = np.concatenate([main[blob], rng.integers(len(names), size=background)])
    strays = rng.random(count) < 0.15
    kinds[strays] = rng.integers(len(names), size=int(strays.sum()))
    projection = Projection(np.arange(count, dtype=np.int64), names[kinds], coords, "umap")
    return MapData(projection), centres[np.argmax(weights)]


def percentiles(times: list[float]) -> str:
    ms = np.array(times) * 1000
    return f"{np.median(ms):5.1f} {np.percentile(ms, 95):5.1f} {ms.max():5.1f}"


def frame(plot, change) -> float:
    start = time.perf_counter()
    change()
    plot.grab()
    return time.perf_counter() - start


def pans(plot, box, step: float) -> list[float]:
    """Thirty pans of ``step`` (about 15 pixels), right then left, drifting up."""
    return [frame(plot, lambda i=i: box.translateBy(x=step * (-1) ** (i // 10), y=step / 2)) for i in range(30)]


def pans_and_zooms(plot, box, blob: np.ndarray) -> dict[str, list[float]]:
    """Pans over the whole map and over a quarter of it round the largest blob; zooms from there in and back out."""
    whole = pans(plot, box, 0.45)
    box.setRange(QRectF(*(blob - 6), 12, 12), padding=0)
    plot.grab()
    quarter = pans(plot, box, 0.2)
    zoom = [frame(plot, lambda: box.scaleBy((0.8, 0.8))) for _ in range(18)]
    zoom += [frame(plot, lambda: box.scaleBy((1.25, 1.25))) for _ in range(18)]
    return {"pan (all)": whole, "pan (quarter)": quarter, "zoom": zoom}


def measure(app, count: int) -> dict[str, str]:
    from app.gui.map_view import MapView
    from app.gui.previews import PreviewLoader

    data, blob = synthetic_map(count)
    view = MapView(PreviewLoader())
    view.resize(WIDTH, HEIGHT)
    view.show()
    app.processEvents()
    start = time.perf_counter()
    view.set_data(data)
    view.plot.grab()
    setup = time.perf_counter() - start
    box = view.viewbox
    times = pans_and_zooms(view.plot, box, blob)
    box.setRange(QRectF(*(blob - 0.4), 0.8, 0.8), padding=0)
    view.plot.grab()
    while not len(view.points.x):
        box.scaleBy((0.5, 0.5))
        view.plot.grab()
    dots = len(view.points.x)
    times[f"pan ({dots:,} dots)"] = pans(view.plot, box, box.viewRect().width() / 60)
    box.setRange(WHOLE_MAP, padding=0)
    view.plot.grab()
    viewport = view.plot.viewport()
    rng = np.random.default_rng(1)
    hover = []
    for x, y in rng.uniform((0, 0), (viewport.width(), viewport.height()), size=(200, 2)):
        move = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(x, y),
            viewport.mapToGlobal(QPointF(x, y)),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        start = time.perf_counter()
        app.sendEvent(viewport, move)
        hover.append(time.perf_counter() - start)
    angles = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    lasso = np.column_stack((6 * np.cos(angles) - 4, 6 * np.sin(angles) + 3))
    start = time.perf_counter()
    box.selected.emit(lasso)
    select = time.perf_counter() - start
    selected = len(view.selection)
    after_select = frame(view.plot, lambda: box.translateBy(x=0.1))
    view.close()
    return {
        "set data s": f"{setup:5.2f}",
        **{f"{name} ms": percentiles(frames) for name, frames in times.items()},
        "hover ms": percentiles(hover),
        "lasso": f"{selected:,} in {select * 1000:.0f} ms, next frame {after_select * 1000:.0f} ms",
    }


def measure_baseline(app, count: int) -> dict[str, str]:
    """The previous view: one ScatterPlotItem per modality holding all its points, with ids for hover and click."""
    import pyqtgraph as pg

    from app.colours import MODALITY_COLOURS
    from engine.modality import Modality

    data, blob = synthetic_map(count)
    plot = pg.PlotWidget(background="w")
    box = plot.getViewBox()
    box.setAspectLocked(True)
    plot.resize(WIDTH, HEIGHT - 30)
    plot.show()
    app.processEvents()
    projection, many = data.projection, count > 20_000
    start = time.perf_counter()
    for modality in Modality:
        mask = projection.modalities == modality.value
        layer = pg.ScatterPlotItem(
            pos=projection.coords[mask],
            size=4 if many else 7,
            pen=None,
            brush=pg.mkBrush(MODALITY_COLOURS[modality]),
            antialias=not many,
            data=projection.ids[mask],
            hoverable=True,
        )
        plot.addItem(layer)
    box.setRange(WHOLE_MAP, padding=0)
    plot.grab()
    setup = time.perf_counter() - start
    box.disableAutoRange()
    times = pans_and_zooms(plot, box, blob)
    plot.close()
    return {"set data s": f"{setup:5.2f}", **{f"{name} ms": percentiles(frames) for name, frames in times.items()}}


def screenshot(app, path: Path) -> None:
    from app.gui.map_view import MapView
    from app.gui.previews import PreviewLoader

    view = MapView(PreviewLoader())
    view.resize(WIDTH, HEIGHT)
    view.show()
    app.processEvents()
    view.set_data(synthetic_map(1_000_000)[0])
    view.set_query_point((2.0, -1.5))
    app.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    view.grab().save(str(path))
    print(f"saved {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path, help="save the view of a million points to this PNG")
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    if args.screenshot:
        screenshot(app, args.screenshot)
        return
    load = os.getloadavg()[0]
    print(
        f"{WIDTH}x{HEIGHT} view, offscreen; times as median, p95 and max; load average {load:.1f} on {os.cpu_count()} cores"
    )
    for count in SIZES:
        for name, figures in (("map view", measure(app, count)), ("baseline", measure_baseline(app, count))):
            print(f"{count:>9,} points, {name}")
            print("    " + "  ".join(f"{key} {value}" for key, value in figures.items()), flush=True)


if __name__ == "__main__":
    main()
