"""A real main window on a real library, with the tiny model, offscreen; and a guard that fails any test in
which engine work (the workspace, file detection, previews, the model) ran on the GUI thread."""

from __future__ import annotations

import functools
import inspect
import shutil
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from tests.conftest import make_mixed_folder

ENGINE_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def indexed_template(tmp_path_factory, world, tiny_weights) -> Path:
    """The mixed folder indexed with the tiny model, its map laid out (UMAP) and cached: made once, copied by each
    test that opens a window on it, so a window test pays for neither indexing nor UMAP."""
    from engine.workspace import Workspace

    folder = tmp_path_factory.mktemp("indexed")
    workspace = Workspace.open(folder / "library", create=True, model=str(tiny_weights), device="cpu")
    workspace.index([make_mixed_folder(folder / "data", world)])
    assert workspace.map().projection.method == "umap"
    workspace.close()
    return folder / "library"


@pytest.fixture(scope="session")
def indexed_data(indexed_template) -> Path:
    """The mixed folder the indexed library holds (shared: read it, do not change it)."""
    return indexed_template.parent / "data"


@pytest.fixture()
def indexed_library(tmp_path, indexed_template) -> Path:
    """This test's own copy of the indexed library (its files stay in the shared, read-only mixed folder)."""
    return Path(shutil.copytree(indexed_template, tmp_path / "library"))


def _guard(monkeypatch, owner, name: str, offences: list[str]) -> None:
    static = inspect.getattr_static(owner, name)
    original = static.__func__ if isinstance(static, (classmethod, staticmethod)) else static

    @functools.wraps(original)
    def checked(*args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            offences.append(f"{getattr(owner, '__name__', owner)}.{name}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, classmethod(checked) if isinstance(static, classmethod) else checked)


@pytest.fixture()
def gui_thread_guard(monkeypatch):
    """``arm()`` starts recording engine calls made on the GUI thread (fixtures that build libraries run before);
    the test fails at its end if there were any."""
    import app.gui.previews
    import engine.preprocess.detect
    import engine.previews
    import engine.workspace
    from engine.library import Library
    from engine.models.factory import LoadedModel
    from engine.workspace import Workspace

    offences: list[str] = []

    def arm() -> None:
        public = [n for n, v in vars(Workspace).items() if not n.startswith("_") and callable(v) and n != "library"]
        for name in public:
            _guard(monkeypatch, Workspace, name, offences)
        for owner, name in (
            (engine.preprocess.detect, "detect_modality"),
            (engine.workspace, "detect_modality"),
            (engine.previews, "make_preview"),
            (app.gui.previews, "preview"),
            (engine.workspace, "make_preview"),
            (LoadedModel, "embed"),
            (Library, "__init__"),
        ):
            _guard(monkeypatch, owner, name, offences)

    yield arm
    assert not offences, f"engine work on the GUI thread: {sorted(set(offences))}"


@pytest.fixture()
def make_window(qtbot, tmp_path, tiny_weights, gui_thread_guard):
    from app.gui.main_window import MainWindow

    windows = []

    def make(library=None):
        if not windows:
            gui_thread_guard()
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
    """Wait until the engine threads have nothing left to do."""
    qtbot.waitUntil(window.jobs.is_idle, timeout=ENGINE_TIMEOUT_MS)
    qtbot.wait(50)
    qtbot.waitUntil(window.jobs.is_idle, timeout=ENGINE_TIMEOUT_MS)
