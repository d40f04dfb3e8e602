"""The Debian package of the desktop bundle: ``python packaging/deb.py dist/BindScope --out dist`` (``make deb``).

The bundle goes to ``/opt/bindscope``; ``/usr/bin/bindscope-app`` opens the app and ``/usr/bin/bindscope`` is the
command line (the same executable: ``main.py`` reads the name it is called by). The desktop entry (with its MIME
types: "Open with BindScope"), the icon and the package's dependencies (the X libraries Qt's xcb plugin loads, the
C++ runtime left out of the bundle) come with it; dpkg owns every file, so ``apt remove`` leaves nothing behind.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from layout import EXECUTABLE, lay_out  # noqa: E402  (this folder: run as a script)

from app.gui.main import XCB_LIBRARIES  # noqa: E402  (the xcb plugin's libraries: one list for both)
from engine import __version__  # noqa: E402

PACKAGE = "bindscope"
PREFIX = Path("opt") / PACKAGE
# What the bundle takes from the system: glibc (GLIBC_FLOOR in check_glibc.py), the C++ runtime and expat (left
# out of the bundle), and what Qt's xcb platform plugin and PySide6 load.
DEPENDS = [
    "libc6 (>= 2.35)",
    "libstdc++6",
    "libgcc-s1",
    "libexpat1",
    "libx11-xcb1",
    "libxcb1",
    "libxkbcommon0",
    "libfontconfig1",
    "libfreetype6",
    "libglib2.0-0",
    "libdbus-1-3",
    "libegl1",
    "libgl1",
    *(debian for _, debian, _ in XCB_LIBRARIES),
]


def control(installed_kib: int) -> str:
    return (
        f"Package: {PACKAGE}\n"
        f"Version: {__version__}\n"
        "Architecture: amd64\n"
        "Maintainer: BindScope developers <bindscope@localhost>\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {', '.join(DEPENDS)}\n"
        "Section: science\n"
        "Priority: optional\n"
        "Description: desktop explorer for ImageBind's joint embedding space\n"
        " Cross-modal search, query arithmetic, zero-shot labels and a map over images,\n"
        " sounds, depth, thermal, IMU and text. Ships a small demo model; ImageBind-huge\n"
        " is downloaded on request (its weights are CC-BY-NC 4.0: non-commercial use).\n"
    )


def size_kib(root: Path) -> int:
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() or p.is_symlink()) // 1024 + 1


def build(bundle: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    deb = out / f"{PACKAGE}_{__version__}_amd64.deb"
    with tempfile.TemporaryDirectory(dir=out) as work:
        root = Path(work) / "root"
        lay_out(bundle, root, app_dir=PREFIX, prefix=Path("usr"))
        (root / "DEBIAN").mkdir()
        (root / "DEBIAN" / "control").write_text(control(size_kib(root)))
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zzstd", "--build", str(root), str(deb)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return deb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the PyInstaller one-folder bundle (dist/BindScope)")
    parser.add_argument("--out", type=Path, default=Path("dist"))
    args = parser.parse_args()
    if not (args.bundle / EXECUTABLE).is_file():
        parser.error(f"{args.bundle}: not a BindScope bundle (no bindscope-app in it): run `make bundle` first")
    print(build(args.bundle, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
