"""A real main window on a real library, with the tiny model, offscreen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from engine.indexer import embed_pending, scan
from engine.library import Library
from engine.models.factory import load_model

ENGINE_TIMEOUT_MS = 60_000


@pytest.fixture()
def indexed_library(tmp_path, mixed_folder, tiny_weights):
    library = Library(tmp_path / "library")
    scan(library, mixed_folder)
    embed_pending(library, load_model(tiny_weights, device="cpu"))
    library.close()
    return tmp_path / "library"


@pytest.fixture()
def make_window(qtbot, tmp_path, tiny_weights):
    from app.gui.main_window import MainWindow

    windows = []

    def make(library=None):
        settings = QSettings(str(tmp_path / f"settings{len(windows)}.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, model=str(tiny_weights), device="cpu", library=str(library) if library else None)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        qtbot.waitUntil(
            lambda: window.model_ready and (library is None or window.summary is not None), timeout=ENGINE_TIMEOUT_MS
        )
        settle(qtbot, window)
        return window

    yield make
    for window in windows:
        window.close()


def settle(qtbot, window) -> None:
    """Wait until the engine thread has nothing left to do."""
    qtbot.waitUntil(window.engine.is_idle, timeout=ENGINE_TIMEOUT_MS)
    qtbot.wait(50)
    qtbot.waitUntil(window.engine.is_idle, timeout=ENGINE_TIMEOUT_MS)
