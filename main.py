"""BindScope: ``python main.py`` opens the desktop app; ``python main.py <command>`` runs the command line."""

from __future__ import annotations

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from app.cli import COMMANDS

    if argv and argv[0] in COMMANDS:
        from app.cli import main as cli_main

        return cli_main(argv)
    from app.gui.main import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    multiprocessing.freeze_support()  # the map's UMAP child process, in a frozen (PyInstaller) app
    sys.exit(main())
