"""The window fits 1280x720 whatever it shows (defect 2): long titles elide, the modality filter is a menu, the
map's status elides; its minimum width does not grow with content."""

from __future__ import annotations

import numpy as np

from engine.workspace import MapData, Projection

SCREEN_WIDTH = 1280


def test_the_window_fits_1280_wide_whatever_it_shows(qtbot, make_window):
    window = make_window()
    window.resize(SCREEN_WIDTH, 720)
    assert window.minimumSizeHint().width() <= SCREEN_WIDTH
    count = 2_000
    clusters = np.arange(count) % 45 - 1
    coords = np.random.default_rng(0).uniform(-1, 1, (count, 2)).astype(np.float32)
    window.map_view.set_data(MapData(Projection(np.arange(count), np.full(count, "vision"), coords, "pca"), clusters))
    window.results.set_cards([], "Neighbours of the selected point, a title as long as a person's sentence " * 2)
    for text in ("a dog on the grass at night", "a long text about trains, rain and bells in the valley", "cat"):
        window.composer.add_text(text)
    qtbot.waitUntil(lambda: len(window.composer._widgets) == 3)
    assert window.minimumSizeHint().width() <= SCREEN_WIDTH
    assert window.width() == SCREEN_WIDTH
