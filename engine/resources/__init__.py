"""Files that ship with BindScope (the demo model, its card, the icon), found as package data.

``importlib.resources`` finds them the same way in a checkout, an installed wheel and a PyInstaller
bundle, so no code works out where they are from its own location.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource(*parts: str) -> Path:
    """A shipped file as a path on disk (every way BindScope installs keeps its packages as folders)."""
    return Path(str(files(__name__).joinpath(*parts)))
