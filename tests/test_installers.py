"""The Linux installers' layout, on a small stand-in bundle (building the real one takes minutes and gigabytes).

The stand-in is an executable that prints the name it was called by, as the bundle's ``bindscope-app`` acts on
it; what is checked is what an installer puts where, that the commands reach it, and that removal leaves nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

from layout import NO_MIME_TYPE, desktop_entry, mime_types  # noqa: E402

from engine.facts import ACCEPTS  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux installers")


@pytest.fixture
def bundle(tmp_path):
    folder = tmp_path / "BindScope"
    (folder / "_internal").mkdir(parents=True)
    (folder / "_internal" / "payload.bin").write_bytes(b"\0" * 1000)
    app = folder / "bindscope-app"
    app.write_text('#!/bin/sh\necho "called as $(basename "$0") with $*"\n')
    app.chmod(0o755)
    return folder


def test_the_desktop_entry_offers_every_format_some_modality_reads():
    entry = desktop_entry()
    offered = set(entry.split("MimeType=")[1].splitlines()[0].rstrip(";").split(";"))
    assert offered == set(mime_types())
    assert {"image/png", "video/mp4", "audio/flac", "text/plain", "text/csv"} <= offered
    assert len(offered) >= len(set().union(*ACCEPTS.values()) - NO_MIME_TYPE) - 8  # aliases share a type
    assert desktop_entry("/home/a b/bin/bindscope-app").count('Exec="/home/a b/bin/bindscope-app" %F') == 1


@pytest.mark.skipif(shutil.which("zstd") is None, reason="zstd not installed")
def test_the_tarball_runs_in_place_installs_for_one_user_and_uninstalls_to_nothing(bundle, tmp_path):
    from tarball import build

    tarball = build(bundle, tmp_path / "dist", level=1)
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-I", "zstd", "-xf", tarball, "-C", unpacked], check=True)
    (top,) = unpacked.iterdir()
    in_place = subprocess.run([top / "bin" / "bindscope", "status"], capture_output=True, text=True, check=True)
    assert in_place.stdout.strip() == "called as bindscope with status"

    prefix = tmp_path / "home" / ".local"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    done = subprocess.run([top / "install.sh"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "not on your PATH" in done.stdout
    app = subprocess.run([prefix / "bin" / "bindscope-app", "x.png"], capture_output=True, text=True, check=True)
    assert app.stdout.strip() == "called as bindscope-app with x.png"
    entry = (prefix / "share" / "applications" / "bindscope.desktop").read_text()
    assert f'Exec="{prefix}/bin/bindscope-app" %F' in entry
    assert (prefix / "share" / "icons" / "hicolor" / "scalable" / "apps" / "bindscope.svg").is_file()
    shutil.rmtree(unpacked)  # the installed copy stands alone

    assert subprocess.run([prefix / "bin" / "bindscope", "x"], capture_output=True).returncode == 0
    (prefix / "share" / "applications" / "other.desktop").write_text("not ours")
    done = subprocess.run([prefix / "lib" / "bindscope" / "uninstall.sh"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    left = {p.relative_to(prefix).as_posix() for p in prefix.rglob("*")}
    left.discard("share/applications/mimeinfo.cache")  # the desktop's cache of the entry that stays
    assert sorted(left) == ["share", "share/applications", "share/applications/other.desktop"]


def test_the_installer_refuses_what_it_does_not_know(tmp_path):
    script = ROOT / "packaging" / "install.sh"
    done = subprocess.run([script, "--frobnicate"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown argument: --frobnicate" in done.stderr
    done = subprocess.run([script, "--uninstall", "--prefix", tmp_path], capture_output=True, text=True)
    assert done.returncode == 1 and "not installed" in done.stderr


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb not installed")
def test_the_deb_puts_the_bundle_in_opt_and_the_commands_on_path(bundle, tmp_path):
    from deb import build

    deb = build(bundle, tmp_path / "dist")
    listing = subprocess.run(["dpkg-deb", "--contents", deb], capture_output=True, text=True, check=True).stdout
    assert "./usr/bin/bindscope -> ../../opt/bindscope/bindscope-app" in listing
    assert "./usr/bin/bindscope-app -> ../../opt/bindscope/bindscope-app" in listing
    assert "./opt/bindscope/_internal/payload.bin" in listing
    assert "./usr/share/applications/bindscope.desktop" in listing
    fields = subprocess.run(["dpkg-deb", "--field", deb], capture_output=True, text=True, check=True).stdout
    assert "Package: bindscope" in fields and "libxcb-cursor0" in fields
