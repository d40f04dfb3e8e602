"""What an installed BindScope looks like, for every Linux installer (the .deb and the tarball).

One tree under a prefix: the bundle in an application folder, ``bin/bindscope`` (the command line) and
``bin/bindscope-app`` (the app) as relative links to its one executable (``main.py`` reads the name it is called
by), the desktop entry with its MIME types ("Open with BindScope") and the icon under ``share``. The MIME types
are derived from the formats table, so a format BindScope learns to read is offered to the desktop too.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.facts import ACCEPTS, resource  # noqa: E402

EXECUTABLE = "bindscope-app"
COMMANDS = ("bindscope", "bindscope-app")
DESKTOP_FILE = Path("share") / "applications" / "bindscope.desktop"
ICON_FILE = Path("share") / "icons" / "hicolor" / "scalable" / "apps" / "bindscope.svg"
# Where Python's own table (read without the host's /etc/mime.types, so every build agrees) has no type:
# the names freedesktop.org's shared-mime-info gives. NumPy arrays have none and are not offered.
SHARED_MIME_INFO = {
    ".flac": "audio/flac",
    ".jp2": "image/jp2",
    ".m4v": "video/x-m4v",
    ".mkv": "video/x-matroska",
    ".oga": "audio/ogg",
    ".ogg": "audio/ogg",
}
NO_MIME_TYPE = frozenset({".npy", ".npz"})


def mime_types() -> list[str]:
    """The MIME types of every extension some modality reads, sorted (the desktop entry's ``MimeType``)."""
    table = mimetypes.MimeTypes(filenames=())
    found = set()
    for extension in set().union(*ACCEPTS.values()) - NO_MIME_TYPE:
        kind = SHARED_MIME_INFO.get(extension) or table.guess_type("x" + extension, strict=False)[0]
        if kind is None:
            raise LookupError(f"no MIME type for {extension}: add it to SHARED_MIME_INFO in {__file__}")
        found.add(kind)
    return sorted(found)


def desktop_entry(executable: str = EXECUTABLE) -> str:
    """The freedesktop.org entry; ``executable`` is a command on PATH or an absolute path (quoted if need be)."""
    command = f'"{executable}"' if " " in executable else executable
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=BindScope\n"
        "GenericName=Multimodal embedding explorer\n"
        "Comment=Search images, sounds, depth, thermal, IMU and text in one embedding space\n"
        f"Exec={command} %F\n"
        f"TryExec={executable}\n"
        "Icon=bindscope\n"
        "Terminal=false\n"
        "Categories=Science;Graphics;Audio;\n"
        f"MimeType={';'.join(mime_types())};\n"
        "StartupWMClass=BindScope\n"
    )


def lay_out(bundle: Path, root: Path, app_dir: Path, prefix: Path) -> None:
    """Put the bundle at ``root/app_dir`` and the commands, desktop entry and icon under ``root/prefix``.

    The bundle is hard-linked, not copied, where the file system allows; folders get mode 755 so the tree
    installs the same whatever the builder's umask.
    """
    target = root / app_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(bundle, target, symlinks=True, copy_function=os.link)
    except OSError:  # another file system
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(bundle, target, symlinks=True)
    bin_dir = root / prefix / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in COMMANDS:
        (bin_dir / name).symlink_to(os.path.relpath(target / EXECUTABLE, bin_dir))
    for relative in (DESKTOP_FILE, ICON_FILE):
        (root / prefix / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / prefix / DESKTOP_FILE).write_text(desktop_entry())
    shutil.copy(resource("icons", "bindscope.svg"), root / prefix / ICON_FILE)
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
