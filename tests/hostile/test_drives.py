"""Row 2 of issue 19: a root that is a mount point, or a drive mounted inside a root, unmounted and rescanned.
The empty folder left behind is offline, never "its files are gone": nothing is marked missing or forgotten."""

from __future__ import annotations

from tests.hostile.faults import in_mount_namespace

UNMOUNT = """
import json, os, subprocess, sys
from pathlib import Path
from engine.workspace import Workspace
from tests.files import write_image

library, plain, drive_root = (Path(p) for p in sys.argv[1:4])
inner = plain / "drive"
for folder in (inner, drive_root):
    folder.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "none", str(folder)], check=True)
write_image(plain / "a.png", seed=1)
write_image(plain / "deleted.png", seed=2)
write_image(inner / "b.png", seed=3)
write_image(inner / "c.png", seed=4)
write_image(drive_root / "d.png", seed=5)
workspace = Workspace.open(library, create=True)
workspace.scan([plain, drive_root])
before = workspace.library.count()
for folder in (inner, drive_root):
    subprocess.run(["umount", str(folder)], check=True)
(plain / "deleted.png").unlink()
scan = workspace.scan()
summary = workspace.summary()
items = workspace.library.items()
offline = workspace.offline(items)
forgotten = workspace.forget_missing()
kept = sorted(Path(i.path).name for i in workspace.library.items())
write_image(inner / "e.png", seed=6)  # the drive's folder is a plain folder with files of its own now
again = workspace.scan()
print(json.dumps({
    "again": {"added": again.added, "missing": again.missing},
    "before": before,
    "missing": scan.missing,
    "states": {Path(r.path).name: r.state for r in summary.roots},
    "root_offline": {Path(r.path).name: r.offline for r in summary.roots},
    "offline": sorted(Path(i.path).name for i in items if i.id in offline),
    "forgotten": forgotten,
    "kept": kept,
    "warnings": scan.warnings,
}))
"""


def test_unmounted_drives_are_offline_and_never_forgotten(tmp_path):
    seen = in_mount_namespace(UNMOUNT, tmp_path / "lib", tmp_path / "plain", tmp_path / "usb")
    assert seen["before"] == 5
    assert seen["states"] == {"plain": "online", "usb": "unmounted"}
    assert seen["root_offline"] == {"plain": 3, "usb": 1}  # deleted.png, and b and c on the unmounted drive
    assert seen["missing"] == 1  # only the file deleted from a folder that is online
    assert seen["offline"] == ["b.png", "c.png", "d.png", "deleted.png"]
    assert seen["forgotten"] == 1
    assert seen["kept"] == ["a.png", "b.png", "c.png", "d.png"]
    assert any("drive" in w and "not mounted" in w for w in seen["warnings"])
    assert seen["again"] == {"added": 1, "missing": 2}  # e.png is read; b and c are gone from a real folder
