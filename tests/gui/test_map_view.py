from __future__ import annotations

import numpy as np

from app.gui.map_view import BOX, MapView, points_in_polygon
from app.gui.previews import PreviewLoader
from app.gui.session import MapData
from engine.library import Item
from engine.modality import Modality
from engine.projection import Projection


def test_points_in_polygon():
    points = np.array([[0.5, 0.5], [2.0, 2.0], [0.1, 0.9], [-1.0, 0.0]])
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    assert points_in_polygon(points, square).tolist() == [True, False, True, False]
    triangle = np.array([[0, 0], [2, 0], [0, 2]], dtype=float)
    assert points_in_polygon(np.array([[0.5, 0.5], [1.5, 1.5]]), triangle).tolist() == [True, False]


def make_data(count: int) -> MapData:
    rng = np.random.default_rng(0)
    modalities = np.array([m.value for m in Modality])[rng.integers(6, size=count)]
    projection = Projection(np.arange(count), modalities, rng.normal(size=(count, 2)).astype(np.float32), "umap")
    items = {i: Item(i, Modality(modalities[i]), f"/x/{i}.png", None, "h", "embedded") for i in range(count)}
    return MapData(projection, items)


def test_box_selection_and_selection_actions(qtbot):
    view = MapView(PreviewLoader())
    qtbot.addWidget(view)
    view.set_data(make_data(500))
    chosen = []
    view.filterToSelection.connect(chosen.append)
    view.set_mode(BOX)
    view.viewbox.selected.emit(np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float))
    coords = view.data.projection.coords
    expected = np.flatnonzero((np.abs(coords) <= 1).all(axis=1)).tolist()
    assert sorted(view._selection) == expected and view.selection_bar.isVisible() is not None
    view.filter_button.click()
    assert sorted(chosen[0]) == expected


def test_one_layer_per_modality_with_a_legend(qtbot):
    view = MapView(PreviewLoader())
    qtbot.addWidget(view)
    view.set_data(make_data(100_000))
    assert len(view._layers) == 6
    assert sum(len(layer.data) for layer in view._layers) == 100_000
    view.set_query_point((0.0, 0.0))
    assert len(view._query.data) == 1
