"""A single-file installer for any Linux desktop: ``python packaging/tarball.py dist/BindScope --out dist``.

``make tarball`` gives ``dist/bindscope-VERSION-linux-x86_64.tar.zst``: one folder holding the bundle
(``lib/bindscope``), ``bin/bindscope`` and ``bin/bindscope-app``, the desktop entry and icon under ``share`` (the
layout the .deb uses, from ``layout.py``) and ``install.sh``. Unpacked it runs in place; ``./install.sh`` installs it
for one user without root (``~/.local``) and ``./install.sh --uninstall`` removes exactly what it installed. No tool
beyond tar and zstd is needed to build or to unpack it, so it serves distributions the .deb does not.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from layout import EXECUTABLE, lay_out

from engine import __version__

INSTALLER = Path(__file__).with_name("install.sh")


def build(bundle: Path, out: Path, level: int = 10) -> Path:
    """Lay the tree out beside ``out`` and pack it with zstd at ``level`` (10: 3.7 GiB in about 2 minutes)."""
    out.mkdir(parents=True, exist_ok=True)
    name = f"bindscope-{__version__}-linux-{platform.machine()}"
    tarball = out / f"{name}.tar.zst"
    with tempfile.TemporaryDirectory(dir=out) as work:
        top = Path(work) / name
        lay_out(bundle, top, app_dir=Path("lib") / "bindscope", prefix=Path("."))
        shutil.copy(INSTALLER, top / "install.sh")
        (top / "install.sh").chmod(0o755)
        partial = tarball.with_suffix(".partial")
        subprocess.run(
            ["tar", "--owner=0", "--group=0", "-I", f"zstd -T0 -{level}", "-cf", str(partial), "-C", work, name],
            check=True,
        )
        partial.replace(tarball)
    return tarball


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the PyInstaller one-folder bundle (dist/BindScope)")
    parser.add_argument("--out", type=Path, default=Path("dist"))
    parser.add_argument("--level", type=int, default=10, help="zstd level, 1-19 (default 10)")
    args = parser.parse_args()
    if not (args.bundle / EXECUTABLE).is_file():
        parser.error(f"{args.bundle}: not a BindScope bundle (no {EXECUTABLE} in it): run `make bundle` first")
    if shutil.which("zstd") is None:
        parser.error("zstd is not installed (Debian/Ubuntu: apt install zstd)")
    print(build(args.bundle, args.out, args.level))
    return 0


if __name__ == "__main__":
    sys.exit(main())
