"""Before Qt starts: a missing system library of the xcb platform plugin is one line and exit 2, not a Qt abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.gui import main as startup

BARE_DEBIAN = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"}


def test_nothing_to_say_when_every_library_loads():
    assert startup.platform_plugin_problem(lambda soname: True, {}, "linux") is None


def test_missing_libraries_are_named_with_the_commands_that_install_them():
    line = startup.platform_plugin_problem(lambda soname: soname not in BARE_DEBIAN, {}, "linux")
    assert "\n" not in line
    assert "missing libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1." in line
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1;" in line
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms)" in line
    one = startup.platform_plugin_problem(lambda soname: soname != "libxcb-keysyms.so.1", {}, "linux")
    assert "missing libxcb-keysyms.so.1." in one and "sudo apt install libxcb-keysyms1;" in one


@pytest.mark.parametrize(
    "environ, system, checked",
    [
        ({}, "linux", True),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({"QT_QPA_PLATFORM": "xcb", "XDG_SESSION_TYPE": "wayland"}, "linux", True),
        ({"XDG_SESSION_TYPE": "x11"}, "linux", True),
        ({"XDG_SESSION_TYPE": "wayland"}, "linux", False),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({"QT_QPA_PLATFORM": "wayland"}, "linux", False),
        ({}, "darwin", False),
        ({}, "win32", False),
    ],
)
def test_checked_only_where_qt_would_use_xcb(environ, system, checked):
    asked = []
    startup.platform_plugin_problem(lambda soname: asked.append(soname) or False, environ, system)
    assert bool(asked) == checked


def test_the_real_loader_finds_libc_and_not_a_made_up_library():
    if not sys.platform.startswith("linux"):
        pytest.skip("sonames are Linux's")
    assert startup.can_load("libc.so.6")
    assert not startup.can_load("libbindscope-does-not-exist.so.0")


def test_main_exits_2_with_one_line_before_qt_is_imported():
    if not sys.platform.startswith("linux"):
        pytest.skip("the xcb plugin is Linux's")
    script = (
        "import sys; from app.gui import main as startup; "
        f"startup.can_load = lambda soname: soname not in {sorted(BARE_DEBIAN)!r}; "
        "code = startup.main([]); "
        "assert not any(name.startswith('PySide6') for name in sys.modules); "
        "sys.exit(code)"
    )
    environ = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "XDG_SESSION_TYPE")}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env={**environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.count("\n") == 1 and "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in done.stderr
    )


@pytest.mark.parametrize(
    "environ, said",
    [
        ({}, "bindscope: no display: DISPLAY is not set."),
        ({"DISPLAY": ":4321"}, "bindscope: cannot connect to the X display ':4321'."),
        ({"QT_QPA_PLATFORM": "offscreen"}, None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, None),
    ],
)
def test_no_display_is_one_line_not_a_qt_abort(environ, said):
    if not sys.platform.startswith("linux"):
        pytest.skip("X displays are Linux's here")
    line = startup.display_problem(environ, "linux")
    assert line == said if said is None else line.startswith(said) and "\n" not in line


def test_main_without_a_display_exits_2_before_qt_is_imported():
    if not sys.platform.startswith("linux"):
        pytest.skip("X displays are Linux's here")
    script = (
        "import sys; from app.gui import main as startup; startup.can_load = lambda soname: True; "
        "code = startup.main(['picture.png']); "
        "assert not any(name.startswith('PySide6') for name in sys.modules); sys.exit(code)"
    )
    keep = ("QT_QPA_PLATFORM", "XDG_SESSION_TYPE", "DISPLAY", "WAYLAND_DISPLAY")
    environ = {k: v for k, v in os.environ.items() if k not in keep}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env={**environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stderr.startswith("bindscope: no display: DISPLAY is not set."), done.stderr


def test_files_and_folders_on_the_command_line(qtbot, tmp_path, tiny_weights, mixed_folder):
    """``bindscope-app FILE FOLDER`` (the desktop entry's %F): the file starts the query, the folder is indexed."""
    from PySide6.QtCore import QSettings

    from app.gui.main_window import MainWindow
    from tests.gui.conftest import ENGINE_TIMEOUT_MS, settle

    args = startup.parse([str(mixed_folder / "images"), "--library", str(tmp_path / "lib")])
    assert args.paths == [str(mixed_folder / "images")]
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model=str(tiny_weights), device="cpu", library=str(tmp_path / "lib"))
    qtbot.addWidget(window)
    startup.add_folders_when_ready(window, args.paths)
    window.show()
    qtbot.waitUntil(lambda: window.summary is not None and window.summary.embedded > 0, timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    assert [root.path for root in window.summary.roots] == [str(mixed_folder / "images")]
    window.close()
