"""Which files of a bundle need a newer glibc than the oldest system it is for: ``python check_glibc.py DIR``.

Every ELF file's dynamic symbols are read with ``objdump -T`` and the highest ``GLIBC_x.y`` version it asks for is
compared with ``GLIBC_FLOOR``. The floor is 2.35 (Ubuntu 22.04, Debian 12), not 2.31: the pinned PySide6 6.11.3
ships as manylinux_2_34 wheels (Qt itself needs glibc 2.34), and the interpreter is the build host's. Prints one
line per offending file and exits 1 if there is any.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

GLIBC_FLOOR = (2, 35)
_VERSION = re.compile(rb"GLIBC_(\d+)\.(\d+)")


def is_elf(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == b"\x7fELF"


def glibc_needed(path: Path) -> tuple[int, int]:
    """The highest glibc symbol version a shared object or executable asks for ((0, 0) for none)."""
    symbols = subprocess.run(["objdump", "-T", str(path)], capture_output=True, check=False).stdout
    return max(((int(a), int(b)) for a, b in _VERSION.findall(symbols)), default=(0, 0))


def too_new(folder: Path, floor: tuple[int, int] = GLIBC_FLOOR) -> dict[Path, tuple[int, int]]:
    """Every ELF file under ``folder`` that needs a glibc newer than ``floor``, with the version it needs."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and is_elf(path):
            needed = glibc_needed(path)
            if needed > floor:
                found[path] = needed
    return found


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    found = too_new(folder)
    for path, (major, minor) in found.items():
        print(f"{path.relative_to(folder)}: needs GLIBC_{major}.{minor}")
    floor = ".".join(map(str, GLIBC_FLOOR))
    print(f"{len(found)} file(s) need a glibc newer than {floor}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
