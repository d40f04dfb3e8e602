"""Clusters on the map (defect 6): a palette that stays distinct past forty, a legend that stays short, noise
named "unclustered", and no two clusters with one name."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

from app.colours import NOISE_LABEL, cluster_colour
from app.gui.map_view import LEGEND_ENTRIES, MapView, _colours, unique_names
from app.gui.previews import PreviewLoader
from engine.workspace import MapData, Projection


def clustered(clusters: np.ndarray, names=None) -> MapData:
    count = len(clusters)
    coords = np.random.default_rng(0).uniform(-1, 1, (count, 2)).astype(np.float32)
    projection = Projection(np.arange(count), np.full(count, "vision"), coords, "umap")
    return MapData(projection, clusters, names or {})


def distance(a: str, b: str) -> float:
    return float(
        np.linalg.norm(
            np.array([int(a[i : i + 2], 16) for i in (1, 3, 5)], float) - [int(b[i : i + 2], 16) for i in (1, 3, 5)]
        )
    )


def test_forty_clusters_get_forty_distinct_colours():
    colours = [cluster_colour(c) for c in range(40)]
    assert len(set(colours)) == 40
    assert min(distance(a, b) for i, a in enumerate(colours) for b in colours[i + 1 :]) > 12


def test_the_legend_names_the_largest_clusters_and_counts_the_rest():
    labels = np.repeat(np.arange(-1, 44), np.arange(1, 46))  # 44 clusters and some noise, of growing size
    _, palette, legend = _colours(clustered(labels))
    assert len(legend) == LEGEND_ENTRIES + 1
    assert legend[0][0] == "cluster 43" and legend[-1][0].startswith("… 33 smaller clusters")
    assert len(palette) == 45
    noise = _colours(clustered(np.array([-1, -1, 0, 0, 0])))[2]
    assert noise[-1][0] == f"{NOISE_LABEL} (2)" and not any("cluster -1" in label for label, _ in noise)


def test_no_two_clusters_share_a_name():
    ranked = {
        0: [("cat", 0.9), ("dog", 0.5)],
        1: [("cat", 0.8), ("bell", 0.7)],
        2: [("cat", 0.7), ("bell", 0.6), ("rain", 0.1)],
        3: [("cat", 0.3)],
    }
    assert unique_names(ranked) == {0: "cat", 1: "bell", 2: "rain"}


def test_a_map_where_every_point_is_noise_says_so_and_fit_shows_it_all(qtbot):
    view = MapView(PreviewLoader())
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    view.set_data(clustered(np.full(50, -1)))
    assert "no clusters found" in view.status.text() and NOISE_LABEL in view.status.text()
    full = view.viewbox.viewRange()
    view.viewbox.scaleBy((0.1, 0.1))
    view.fit_button.click()
    np.testing.assert_allclose(view.viewbox.viewRange(), full, rtol=1e-3)


def test_the_reason_no_cluster_was_found_is_shown(qtbot):
    view = MapView(PreviewLoader())
    qtbot.addWidget(view)
    data = clustered(np.full(50, -1))
    data.clusters_note = "HDBSCAN found no dense groups in the 50-point sample of the map; try k-means"
    view.set_data(data)
    assert data.clusters_note in view.status.text() and data.clusters_note in view.status.toolTip()
    legend = [label.replace("<br>", " ") for label, _ in _colours(data)[2]]
    assert legend == [f"{NOISE_LABEL} (50)", data.clusters_note]
    narrowed = data.only(np.arange(50) < 20)  # a filter keeps the reason
    assert narrowed.clusters_note == data.clusters_note
