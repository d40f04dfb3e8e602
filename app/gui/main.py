"""Starting the desktop app: ``bindscope-app [FILE_OR_FOLDER ...] [--library DIR] [--query FILE ...] [--screenshot FILE]``.

Files named on the command line (the desktop entry's ``%F``: "Open with BindScope") start the query;
folders are added to the library. Everything that stops Qt from starting (no display, a missing xcb
library) is said in one line with exit code 2 before Qt is imported, instead of Qt's abort.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from engine.facts import DEVICE_CHOICES

STARTED = time.perf_counter()
EXIT_UNUSABLE = 2

# System libraries Qt's xcb platform plugin links that minimal Linux installs lack (bare Debian:
# the first three), as (soname, Debian/Ubuntu package, Fedora package). Without one, Qt aborts
# inside QApplication with "no Qt platform plugin could be initialized", naming none of them.
XCB_LIBRARIES = (
    ("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    ("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    ("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    ("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    ("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bindscope-app", description="BindScope desktop app (run `bindscope --help` for the command line)."
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="FILE_OR_FOLDER",
        help="files start the query (as --query does); folders are added to the library and indexed",
    )
    parser.add_argument(
        "--library", metavar="DIR", help="open this library folder (default: $BINDSCOPE_LIBRARY, else the last one)"
    )
    parser.add_argument(
        "--model",
        help="the model for new libraries (name or checkpoint path; default: the last one chosen, else the best "
        "available); a library keeps the model it was embedded with (Settings ▸ Model to locate or change it)",
    )
    parser.add_argument("--device", choices=DEVICE_CHOICES, help="where the encoders run")
    parser.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="ITEM|FILE|TEXT",
        help="start with this in the query: a library item's id or path, a file, or a text; repeatable",
    )
    parser.add_argument(
        "--screenshot", metavar="FILE", help="render the main window to a PNG once it is ready, then exit"
    )
    parser.add_argument("--settings", metavar="FILE", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def can_load(soname: str) -> bool:
    """Whether the dynamic loader finds a library, asked the way Qt will ask (dlopen: under a millisecond,
    and LD_LIBRARY_PATH counts; ``ctypes.util.find_library`` runs ldconfig, 10-40 ms a name, and ignores it)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def qt_would_use_xcb(environ: Mapping[str, str] = os.environ, system: str = sys.platform) -> bool:
    """Linux with no platform chosen (or xcb chosen), outside a Wayland session where Qt picks Wayland."""
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if not system.startswith("linux") or (chosen and not chosen.startswith("xcb")):
        return False
    return bool(chosen) or environ.get("XDG_SESSION_TYPE") != "wayland"


def platform_plugin_problem(
    load: Callable[[str], bool] = can_load, environ: Mapping[str, str] = os.environ, system: str = sys.platform
) -> str | None:
    """One line naming the libraries Qt's platform plugin lacks and how to install them, or None when none is missing."""
    if not qt_would_use_xcb(environ, system):
        return None
    missing = [entry for entry in XCB_LIBRARIES if not load(entry[0])]
    if not missing:
        return None
    names, debian, fedora = zip(*missing, strict=True)
    return (
        f"bindscope: Qt's xcb platform plugin cannot load: missing {', '.join(names)}. "
        f"Install them (Debian/Ubuntu: sudo apt install {' '.join(debian)}; "
        f"Fedora: sudo dnf install {' '.join(fedora)}), "
        "or choose another platform with QT_QPA_PLATFORM (wayland, offscreen)."
    )


def display_problem(environ: Mapping[str, str] = os.environ, system: str = sys.platform) -> str | None:
    """One line when Qt would look for an X display and there is none to be had, else None."""
    if not qt_would_use_xcb(environ, system) or environ.get("WAYLAND_DISPLAY"):
        return None
    display = environ.get("DISPLAY")
    if not display:
        reason = "no display: DISPLAY is not set"
    elif not can_connect_x(display):
        reason = f"cannot connect to the X display {display!r}"
    else:
        return None
    return (
        f"bindscope: {reason}. Start BindScope inside a desktop session, use the command line "
        "(`bindscope --help`), or render off-screen with QT_QPA_PLATFORM=offscreen."
    )


def can_connect_x(display: str) -> bool:
    """Whether an X server answers at ``display``, asked through libxcb as Qt will ask (it aborts if none does)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # no libxcb: platform_plugin_problem names what is missing
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return xcb.xcb_connection_has_error(connection) == 0
    finally:
        xcb.xcb_disconnect(connection)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    problem = platform_plugin_problem(can_load) or display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_UNUSABLE
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("BindScope")
    app.setOrganizationName("BindScope")
    app.setStyle("Fusion")  # follows the system's light or dark scheme
    from PySide6.QtGui import QIcon

    from engine.facts import resource

    app.setWindowIcon(QIcon(str(resource("icons", "bindscope.svg"))))

    from app.gui.main_window import MainWindow

    settings = QSettings(args.settings, QSettings.Format.IniFormat) if args.settings else None
    from engine.facts import chosen_library

    requested = args.library or chosen_library()
    library = str(Path(requested).expanduser().resolve()) if requested else None
    window = MainWindow(settings, model=args.model, device=args.device, library=library)
    folders = [str(Path(p).resolve()) for p in args.paths if Path(p).is_dir()]
    offered = [p for p in args.paths if not Path(p).is_dir()] + args.query
    if offered:  # once the library is open: an entry may name one of its items
        window.ready.connect(
            lambda: [window.offer_query(entry) for entry in offered], Qt.ConnectionType.SingleShotConnection
        )
    if folders:
        add_folders_when_ready(window, folders)
    window.show()
    if args.screenshot:
        print(f"window visible after {time.perf_counter() - STARTED:.2f} s", file=sys.stderr)
        _capture_when_settled(window, Path(args.screenshot), app)
    return app.exec()


def add_folders_when_ready(window, folders: list[str]) -> None:
    """Index folders named on the command line into the library the window opens (once it is open)."""

    def add() -> None:
        window.ready.disconnect(add)
        if window.summary is None:
            window.say(f"Open or create a library to add {', '.join(folders)} (File menu).")
            return
        for folder in folders:
            window.index(folder)

    window.ready.connect(add)


def _capture_when_settled(window, out: Path, app, timeout_s: float = 300.0) -> None:
    """Save a PNG of the window once the engine has been idle for a moment (or at the timeout)."""
    from PySide6.QtCore import QTimer

    deadline = time.monotonic() + timeout_s
    quiet = {"since": None}

    def check() -> None:
        busy = (
            window.jobs.is_busy("index")
            or window.jobs.is_busy("map")
            or window.jobs.is_busy("search")
            or not window.model_ready
        )
        now = time.monotonic()
        if busy:
            quiet["since"] = None
        elif quiet["since"] is None:
            quiet["since"] = now
        if (quiet["since"] is not None and now - quiet["since"] > 2.0) or now > deadline:
            window.grab().save(str(out))
            print(f"wrote {out}", file=sys.stderr)
            window.close()
            app.quit()
            return
        QTimer.singleShot(250, check)

    QTimer.singleShot(500, check)
