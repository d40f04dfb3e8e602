"""Starting the desktop app: ``python main.py [--library DIR] [--query FILE ...] [--screenshot FILE]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bindscope", description="BindScope desktop app (run `bindscope <command> --help` for the command line)."
    )
    parser.add_argument("--library", metavar="DIR", help="open this library folder")
    parser.add_argument(
        "--model", help="model name or checkpoint path (default: the last one chosen, else the best available)"
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where the encoders run")
    parser.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="FILE",
        help="start with this file (or text) in the query; repeatable",
    )
    parser.add_argument(
        "--screenshot", metavar="FILE", help="render the main window to a PNG once it is ready, then exit"
    )
    parser.add_argument("--settings", metavar="FILE", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("BindScope")
    app.setOrganizationName("BindScope")
    app.setStyle("Fusion")  # follows the system's light or dark scheme
    from PySide6.QtGui import QIcon

    from engine.models.zoo import RESOURCES

    app.setWindowIcon(QIcon(str(RESOURCES / "icons" / "bindscope.svg")))

    from app.gui.main_window import MainWindow

    settings = QSettings(args.settings, QSettings.Format.IniFormat) if args.settings else None
    library = str(Path(args.library).expanduser().resolve()) if args.library else None
    window = MainWindow(settings, model=args.model, device=args.device, library=library)
    for entry in args.query:
        if Path(entry).exists():
            window.composer.add_files([entry])
        else:
            window.composer.add_text(entry)
    window.show()
    if args.screenshot:
        print(f"window visible after {time.perf_counter() - STARTED:.2f} s", file=sys.stderr)
        _capture_when_settled(window, Path(args.screenshot), app)
    return app.exec()


def _capture_when_settled(window, out: Path, app, timeout_s: float = 300.0) -> None:
    """Save a PNG of the window once the engine has been idle for a moment (or at the timeout)."""
    from PySide6.QtCore import QTimer

    deadline = time.monotonic() + timeout_s
    quiet = {"since": None}

    def check() -> None:
        busy = (
            window.engine.is_busy("index")
            or window.engine.is_busy("map")
            or window.engine.is_busy("search")
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
