"""Where BindScope keeps a library when nobody names one: the same folder for the command line and the app."""

from __future__ import annotations

import os
from pathlib import Path

LIBRARY_VARIABLE = "BINDSCOPE_LIBRARY"


def chosen_library() -> Path | None:
    """The library ``$BINDSCOPE_LIBRARY`` names, if it is set: it wins over the app's last library."""
    value = os.environ.get(LIBRARY_VARIABLE)
    return Path(value).expanduser() if value else None


def default_library() -> Path:
    """``$BINDSCOPE_LIBRARY``, else ``library`` in the platform's user data folder (``~/.local/share/BindScope``)."""
    import platformdirs

    return chosen_library() or Path(platformdirs.user_data_dir("BindScope", appauthor=False)) / "library"
