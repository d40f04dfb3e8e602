"""The map view driven as a person drives it: real mouse presses, moves and releases on the plot's viewport."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.colours import MODALITY_COLOURS
from app.gui.map_view import POINT_LIMIT, RING_LIMIT, MapView, points_in_polygon
from app.gui.previews import PreviewLoader
from engine.modality import Modality
from engine.workspace import Item, MapData, Projection

MODALITY_NAMES = np.array([m.value for m in Modality])


def uniform_map(count: int, seed: int = 0) -> MapData:
    rng = np.random.default_rng(seed)
    coords = rng.uniform(-10, 10, size=(count, 2)).astype(np.float32)
    ids = rng.permutation(count).astype(np.int64) + 1000  # not positions: the view must keep ids and rows apart
    return MapData(Projection(ids, MODALITY_NAMES[rng.integers(6, size=count)], coords, "umap"))


def two_blobs(per_blob: int) -> MapData:
    """Images round (-5, 3), sounds round (5, -3): left-top and right-bottom, so a flipped axis would show."""
    rng = np.random.default_rng(1)
    coords = np.concatenate([rng.normal((-5, 3), 1.0, (per_blob, 2)), rng.normal((5, -3), 1.0, (per_blob, 2))])
    modalities = np.repeat([Modality.VISION.value, Modality.AUDIO.value], per_blob)
    return MapData(Projection(np.arange(2 * per_blob), modalities, coords.astype(np.float32), "umap"))


@pytest.fixture()
def view(qtbot):
    previews = PreviewLoader()
    widget = MapView(previews)
    qtbot.addWidget(widget)
    widget.resize(640, 520)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    previews.shutdown()


def on_screen(view: MapView, x: float, y: float) -> QPoint:
    """Where a data point lies in the plot's viewport."""
    return view.plot.mapFromScene(view.viewbox.mapViewToScene(QPointF(x, y)))


def in_data(view: MapView, point: QPoint) -> tuple[float, float]:
    here = view.viewbox.mapSceneToView(view.plot.mapToScene(point))
    return here.x(), here.y()


def loneliest(coords: np.ndarray, among: np.ndarray) -> int:
    """The row (of those ``among`` marks) whose nearest neighbour is farthest away: pointing at it can only mean it."""
    coords = coords.astype(np.float64)
    rows = np.flatnonzero(among)
    gaps = [np.partition(np.hypot(*(coords - coords[row]).T), 1)[1] for row in rows]
    return int(rows[int(np.argmax(gaps))])


def emptiest_spot(view: MapView, coords: np.ndarray) -> QPoint:
    """The place in the viewport farthest from every point."""
    spots = [QPoint(x, y) for x in range(20, 600, 9) for y in range(20, 460, 9)]
    gaps = [np.hypot(*(coords - in_data(view, spot)).T).min() for spot in spots]
    return spots[int(np.argmax(gaps))]


def even_odd(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """The even-odd rule, written plainly: the reference the view's selection must equal."""
    x, y = points[:, 0].astype(np.float64), points[:, 1].astype(np.float64)
    inside = np.zeros(len(points), dtype=bool)
    for (xi, yi), (xj, yj) in zip(polygon, np.roll(polygon, 1, axis=0), strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing = x < (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= ((yi > y) != (yj > y)) & crossing
    return inside


def colour_at(view: MapView, point: QPoint) -> QColor:
    return view.plot.viewport().grab().toImage().pixelColor(point)


def inked_in(picture: QImage, at: QPoint, colour: str) -> bool:
    """Whether the 9x9 pixels round ``at``, drawn over white, are a strong wash of ``colour`` and of no other."""
    pixels = [picture.pixelColor(at + QPoint(dx, dy)).getRgb()[:3] for dx in range(-4, 5) for dy in range(-4, 5)]
    ink = 255 - np.mean(pixels, axis=0)
    full = 255 - np.array(QColor(colour).getRgb()[:3])
    cosine = ink @ full / (np.linalg.norm(ink) * np.linalg.norm(full))
    return cosine > 0.995 and np.linalg.norm(ink) > 0.6 * np.linalg.norm(full)


def close_to(colour: QColor, expected: str, tolerance: int = 12) -> bool:
    want = QColor(expected)
    return all(abs(a - b) <= tolerance for a, b in zip(colour.getRgb()[:3], want.getRgb()[:3], strict=True))


def drag(qtbot, view: MapView, path: list[QPoint], modifier=Qt.KeyboardModifier.NoModifier) -> np.ndarray:
    """Press at the first point, move through the rest, release at the last, holding ``modifier``; returns the path
    in data coordinates, as mapped before the drag (a selection shows a bar that shrinks the plot)."""
    polygon = np.array([in_data(view, point) for point in path])
    viewport = view.plot.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, modifier, path[0])
    for point in path[1:]:
        qtbot.wait(12)  # pyqtgraph takes at most 100 moves a second
        move(viewport, point, modifier)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifier, path[-1])
    return polygon


def move(viewport, point: QPoint, modifier) -> None:
    """A move with the left button down and ``modifier`` held (QTest's own moves carry no modifiers)."""
    if modifier == Qt.KeyboardModifier.NoModifier:
        QTest.mouseMove(viewport, point)
        return
    global_point = QPointF(viewport.mapToGlobal(point))
    event = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(point),
        global_point,
        Qt.MouseButton.NoButton,
        Qt.MouseButton.LeftButton,
        modifier,
    )
    QApplication.sendEvent(viewport, event)


def test_points_in_polygon_is_the_even_odd_rule():
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    points = np.array([[0.5, 0.5], [2.0, 2.0], [0.1, 0.9], [-1.0, 0.0]])
    assert points_in_polygon(points, square).tolist() == [True, False, True, False]
    rng = np.random.default_rng(3)
    points = rng.normal(size=(3000, 2)).astype(np.float32)
    for _ in range(20):  # self-intersecting polygons included
        polygon = rng.normal(size=(int(rng.integers(3, 40)), 2))
        assert np.array_equal(points_in_polygon(points, polygon), even_odd(points, polygon))


def test_a_click_on_a_point_emits_its_id_and_rings_it(qtbot, view):
    data = uniform_map(3000)
    view.set_data(data)
    row = loneliest(data.projection.coords, (np.abs(data.projection.coords) < 8).all(axis=1))
    item_id = int(data.projection.ids[row])
    with qtbot.waitSignal(view.itemClicked) as clicked:
        qtbot.mouseClick(
            view.plot.viewport(), Qt.MouseButton.LeftButton, pos=on_screen(view, *data.projection.coords[row])
        )
    assert clicked.args == [item_id]
    assert view.selection == [item_id]
    view.plot.grab()
    assert view.rings.ids.tolist() == [item_id]


def test_a_click_on_empty_space_selects_nothing(qtbot, view):
    data = uniform_map(50)
    view.set_data(data)
    with qtbot.assertNotEmitted(view.itemClicked):
        qtbot.mouseClick(
            view.plot.viewport(), Qt.MouseButton.LeftButton, pos=emptiest_spot(view, data.projection.coords)
        )
    assert view.selection == []


def test_a_box_drag_selects_exactly_the_points_inside(qtbot, view):
    data = uniform_map(4000)
    view.set_data(data)
    qtbot.mouseClick(view._mode_buttons["box"], Qt.MouseButton.LeftButton)
    path = drag(qtbot, view, [QPoint(150, 120), QPoint(200, 160), QPoint(300, 250), QPoint(420, 330)])
    (x0, y0), (x1, y1) = path[0], path[-1]
    x, y = data.projection.coords.T
    inside = (x >= min(x0, x1)) & (x < max(x0, x1)) & (y >= min(y0, y1)) & (y < max(y0, y1))
    expected = sorted(data.projection.ids[inside].tolist())
    assert len(expected) > 100
    assert view.selection == expected
    with qtbot.waitSignal(view.filterToSelection) as shown:
        qtbot.mouseClick(view.filter_button, Qt.MouseButton.LeftButton)
    assert shown.args == [expected]


def test_a_lasso_drag_selects_exactly_the_points_inside(qtbot, view):
    data = uniform_map(4000, seed=2)
    view.set_data(data)
    qtbot.mouseClick(view._mode_buttons["lasso"], Qt.MouseButton.LeftButton)
    centre, angles = np.array([320, 250]), np.linspace(0, 2 * np.pi, 15, endpoint=False)
    radii = np.where(np.arange(15) % 2, 70, 180)  # a star: concave, so a box or a hull would select too much
    offsets = radii[:, None] * np.column_stack((np.cos(angles), np.sin(angles)))
    polygon = drag(qtbot, view, [QPoint(*point) for point in (centre + offsets).astype(int)])
    expected = sorted(data.projection.ids[even_odd(data.projection.coords, polygon)].tolist())
    assert len(expected) > 100
    assert view.selection == expected
    with qtbot.waitSignal(view.searchSelection) as searched:
        qtbot.mouseClick(view.search_button, Qt.MouseButton.LeftButton)
    assert searched.args == [expected]


def test_hovering_a_point_asks_for_its_item_and_shows_the_answer(qtbot, view):
    data = uniform_map(3000)
    view.set_data(data)
    x, y = data.projection.coords.T
    row = loneliest(data.projection.coords, (x > -8) & (x < 0) & (y > 0) & (y < 8))  # top left: the card fits
    item_id = int(data.projection.ids[row])
    at = on_screen(view, *data.projection.coords[row])
    with qtbot.waitSignal(view.hoverItem) as hovered:
        qtbot.mouseMove(view.plot.viewport(), at + QPoint(2, 1))
    assert hovered.args == [item_id]
    view.show_hover(Item(item_id + 1, Modality.AUDIO, "/elsewhere.wav", None, "h", "embedded"))
    assert view.hover.isHidden()  # an answer about another item is stale
    view.show_hover(Item(item_id, Modality.VISION, "/photos/dog.png", None, "h", "embedded"))
    assert view.hover.isVisible()
    assert "dog.png" in view.hover.label.text()
    card = view.hover.geometry()
    cursor = view.plot.viewport().mapTo(view, at)
    assert 0 < card.left() - cursor.x() <= 20 and 0 < card.top() - cursor.y() <= 20
    qtbot.mouseMove(view.plot.viewport(), emptiest_spot(view, data.projection.coords))
    assert view.hover.isHidden()


def test_many_points_are_a_density_image_in_their_colours(qtbot, view):
    data = two_blobs(15_000)
    assert len(data.projection) > POINT_LIMIT
    view.set_data(data)
    view.plot.grab()
    assert view.density.isVisible() and len(view.points.x) == 0
    images, sounds = on_screen(view, -5, 3), on_screen(view, 5, -3)
    assert images.x() < sounds.x() and images.y() < sounds.y()  # left-top and right-bottom on screen
    picture = view.plot.viewport().grab().toImage()
    assert inked_in(picture, images, MODALITY_COLOURS[Modality.VISION])
    assert inked_in(picture, sounds, MODALITY_COLOURS[Modality.AUDIO])
    assert picture.pixelColor(on_screen(view, 5, 3)) == view.palette().base().color()  # six sigmas from both blobs
    drawn = view.density.pixels
    view.viewbox.translateBy(x=1.5, y=-1.0)  # a pan moves the image, which covers the whole map, and draws it again
    picture = view.plot.viewport().grab().toImage()
    assert view.density.pixels is drawn
    assert on_screen(view, -5, 3) != images
    assert inked_in(picture, on_screen(view, -5, 3), MODALITY_COLOURS[Modality.VISION])
    assert inked_in(picture, on_screen(view, 5, -3), MODALITY_COLOURS[Modality.AUDIO])


def test_zoomed_in_the_visible_points_are_drawn_as_themselves(qtbot, view):
    data = two_blobs(15_000)
    view.set_data(data)
    view.viewbox.setRange(QRectF(-5.5, 2.5, 1.0, 1.0), padding=0)
    view.plot.grab()
    shown = view.viewbox.viewRect()
    x, y = data.projection.coords.T
    inside = (x >= shown.left()) & (x < shown.right()) & (y >= shown.top()) & (y < shown.bottom())
    assert not view.density.isVisible()
    assert sorted(view.points.ids.tolist()) == sorted(data.projection.ids[inside].tolist())
    assert 0 < inside.sum() <= POINT_LIMIT
    centre = data.projection.coords[inside][np.argmin(np.hypot(x[inside] + 5, y[inside] - 3))]
    assert close_to(colour_at(view, on_screen(view, *centre)), MODALITY_COLOURS[Modality.VISION])


def test_a_large_selection_greys_the_rest_instead_of_ringing(qtbot, view):
    data = uniform_map(5000)
    view.set_data(data)
    chosen = data.projection.ids[data.projection.coords[:, 0] < 0]
    assert len(chosen) > RING_LIMIT
    view.set_selection(chosen.tolist())
    view.plot.grab()
    grey = len(view._palette)
    drawn_grey = view.points.ids[view.points.kinds == grey]
    assert len(view.rings.x) == 0
    assert sorted(drawn_grey.tolist()) == sorted(set(data.projection.ids.tolist()) - set(chosen.tolist()))


def test_show_item_zooms_in_to_it_and_its_neighbours(qtbot, view):
    data = uniform_map(30_000)
    view.set_data(data)
    view.plot.grab()
    assert view.density.isVisible()
    item_id = int(data.projection.ids[123])
    view.show_item(item_id)
    view.plot.grab()
    assert view.selection == [item_id]
    assert view.viewbox.viewRect().contains(QPointF(*data.projection.coords[123]))
    assert 50 <= len(view.points.ids) <= 2_000 and item_id in view.points.ids
    assert view.rings.ids.tolist() == [item_id]


def test_status_and_recolouring_by_cluster_keep_the_view(qtbot, view):
    data = uniform_map(1500)
    view.set_data(data)
    assert view.status.text() == "1,500 items · UMAP"
    view.viewbox.setRange(QRectF(0, 0, 5, 5), padding=0)
    before = view.viewbox.viewRect()
    clusters = (data.projection.coords[:, 0] > 0).astype(np.int64) - (data.projection.coords[:, 1] > 8)
    view.set_data(MapData(data.projection, clusters, {0: [("dogs", 0.9)], 1: [("rain", 0.8)]}))
    assert view.viewbox.viewRect() == before
    labels = [label.text for _, label in view.legend.items]
    noise = int((clusters < 0).sum())  # HDBSCAN's noise is named, not numbered; the largest clusters come first
    assert sorted(labels) == sorted([f"unclustered ({noise:,})", "cluster 0: dogs", "cluster 1: rain"])
    preview = Projection(data.projection.ids, data.projection.modalities, data.projection.coords, "pca")
    view.set_data(MapData(preview))
    assert view.status.text() == "1,500 items · PCA (computing UMAP…)"
    view.set_data(None)
    assert view.status.text() == "" and not view.empty.isHidden()


def test_shift_adds_to_the_selection_and_ctrl_removes_from_it(qtbot, view):
    data = uniform_map(4000, seed=4)
    view.set_data(data)
    coords, ids = data.projection.coords, data.projection.ids

    def inside(path):
        (x0, y0), (x1, y1) = path[0], path[-1]
        x, y = coords.T
        return set(ids[(x >= min(x0, x1)) & (x < max(x0, x1)) & (y >= min(y0, y1)) & (y < max(y0, y1))].tolist())

    qtbot.mouseClick(view._mode_buttons["box"], Qt.MouseButton.LeftButton)
    first = inside(drag(qtbot, view, [QPoint(230, 120), QPoint(300, 180), QPoint(360, 240)]))
    assert view.selection == sorted(first)
    qtbot.mouseClick(view._mode_buttons["pan"], Qt.MouseButton.LeftButton)  # Shift+drag selects even in pan mode
    second = inside(
        drag(qtbot, view, [QPoint(430, 150), QPoint(500, 200), QPoint(560, 300)], Qt.KeyboardModifier.ShiftModifier)
    )
    assert first and second and not first & second
    assert view.selection == sorted(first | second)
    assert view.selection_label.text() == f"{len(first | second):,} selected"
    cut = inside(
        drag(qtbot, view, [QPoint(320, 200), QPoint(400, 230), QPoint(460, 260)], Qt.KeyboardModifier.ControlModifier)
    )
    assert cut & first and cut & second
    assert view.selection == sorted((first | second) - cut)
    assert view.map_selection.ids.tolist() == view.selection
    row = loneliest(coords, ~np.isin(ids, list((first | second) - cut)) & (np.abs(coords) < 8).all(axis=1))
    with qtbot.assertNotEmitted(view.itemClicked):
        qtbot.mouseClick(
            view.plot.viewport(),
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.ShiftModifier,
            on_screen(view, *coords[row]),
        )
    assert int(ids[row]) in view.selection
    qtbot.mouseClick(
        view.plot.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ControlModifier,
        on_screen(view, *coords[row]),
    )
    assert view.selection == sorted((first | second) - cut)


def test_the_map_shows_a_selection_made_in_the_state(qtbot, view):
    data = uniform_map(300)
    view.set_data(data)
    chosen = data.projection.ids[:7]
    view.map_selection.edit(chosen)
    view.plot.grab()
    assert sorted(view.rings.ids.tolist()) == sorted(chosen.tolist())
    assert view.selection_bar.isVisible() and view.selection_label.text() == "7 selected"


def test_the_selection_is_kept_by_item_ids_across_re_layouts_and_updates(qtbot, view):
    data = uniform_map(1000, seed=2)
    view.set_data(data)
    chosen = data.projection.ids[100:140]
    view.map_selection.edit(chosen)
    ids, modalities, coords = data.projection.ids, data.projection.modalities, data.projection.coords
    shuffled = np.random.default_rng(3).permutation(len(ids))
    view.set_data(MapData(Projection(ids[shuffled], modalities[shuffled], coords[shuffled] * 2 + 1, "pca")))
    assert view.selection == sorted(chosen.tolist())  # laid out again: the same items, placed elsewhere
    view.set_data(MapData(Projection(ids[120:], modalities[120:], coords[120:], "umap")))  # an update without some
    assert view.selection == sorted(chosen[20:].tolist())
    grown = np.concatenate((ids, [ids.max() + 1]))
    view.set_data(MapData(Projection(grown, np.append(modalities, "audio"), np.vstack((coords, [[0, 0]])), "umap")))
    assert view.selection == sorted(chosen.tolist())  # back on the map: selected again
    view.plot.grab()
    assert sorted(view.rings.ids.tolist()) == sorted(chosen.tolist())
    assert view.selection_label.text() == "40 selected"
