from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QTimer

from engine.demo.world import generate
from tests.gui.conftest import ENGINE_TIMEOUT_MS, settle


def embedded(window) -> int:
    return window.summary.embedded if window.summary else 0


def test_add_folder_then_cancel_keeps_what_was_done(qtbot, make_window, tmp_path):
    folder = tmp_path / "world"
    generate(folder, per_concept=4)
    window = make_window(tmp_path / "library")
    progress = []
    window.index(str(folder)).progress.connect(lambda p: progress.append(p.done))
    qtbot.waitUntil(
        lambda: bool(window.library_panel.progress_host.isVisible() and progress and progress[-1] > 0),
        timeout=ENGINE_TIMEOUT_MS,
    )
    window.library_panel.cancel_button.click()
    settle(qtbot, window)
    assert "cancelled" in window.message.text() or embedded(window) < 12 * 4 * 6
    assert not window.library_panel.progress_host.isVisible()
    window.rescan()
    settle(qtbot, window)
    assert embedded(window) == 12 * 4 * 6


def test_gui_thread_stays_responsive_while_indexing(qtbot, make_window, tmp_path):
    folder = tmp_path / "world"
    generate(folder, per_concept=2)
    window = make_window(tmp_path / "library")
    lateness: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(now - last[0] - 0.010)
        last[0] = now

    timer = QTimer(interval=10)
    timer.timeout.connect(tick)
    timer.start()
    window.index(str(folder))
    qtbot.waitUntil(lambda: embedded(window) == 12 * 2 * 6 and window.jobs.is_idle(), timeout=ENGINE_TIMEOUT_MS * 2)
    timer.stop()
    assert len(lateness) > 50
    assert np.percentile(lateness, 99) < 0.050, f"p99 lateness {np.percentile(lateness, 99) * 1000:.1f} ms"


def test_screenshot_renders_the_window(tmp_path, indexed_library, tiny_weights):
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [
        sys.executable,
        "main.py",
        "--library",
        str(indexed_library),
        "--model",
        str(tiny_weights),
        "--device",
        "cpu",
        "--settings",
        str(tmp_path / "s.ini"),
        "--query",
        "a dog",
        "--screenshot",
        str(out),
    ]
    result = subprocess.run(
        command, cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert image.size[0] >= 800 and image.size[1] >= 500
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is None or len(colours) > 50  # a rendered window, not a blank frame
