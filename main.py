"""BindScope: ``python main.py`` opens the desktop app; ``python main.py <command>`` runs the command line.

The PyInstaller bundle's executable starts here: ``bindscope-app`` opens the app, and the same executable
called ``bindscope`` (the installers' link on PATH) is the command line."""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path


def main(argv: list[str] | None = None, program: str | None = None) -> int:
    """The command line when called ``bindscope`` (the installers' command on PATH) or given a command, else the app."""
    argv = sys.argv[1:] if argv is None else argv
    program = Path(sys.argv[0]).name if program is None else program
    from app.cli import COMMANDS

    if program == "bindscope" or (argv and argv[0] in COMMANDS | {"--version"}):
        from app.cli import main as cli_main

        return cli_main(argv)
    from app.gui.main import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    multiprocessing.freeze_support()  # the map's UMAP child process, in a frozen (PyInstaller) app
    sys.exit(main())
