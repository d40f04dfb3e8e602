"""The built desktop bundle (`make bundle`), when there is one: lean, runnable, and no newer glibc than it says.

Building takes minutes and gigabytes, so the suite does not build it; these tests check what `make bundle` left in
dist/BindScope and skip when it is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "dist" / "BindScope"

pytestmark = pytest.mark.skipif(
    not (BUNDLE / "bindscope-app").is_file() or not sys.platform.startswith("linux"),
    reason="no Linux bundle built (make bundle)",
)


def test_no_file_needs_a_newer_glibc_than_the_floor():
    sys.path.insert(0, str(ROOT / "packaging"))
    from check_glibc import too_new

    assert too_new(BUNDLE) == {}


def test_left_out_what_loads_on_demand():
    internal = BUNDLE / "_internal"
    for folder in ("triton", "ray", "pandas", "pytest", "hypothesis"):
        assert not (internal / folder).exists(), folder
    names = {p.name for p in internal.rglob("*.so*")}
    assert not names & {
        "libtorch_cuda_linalg.so",
        "libstdc++.so.6",
        "libexpat.so.1",
        "libcudnn_engines_precompiled.so.9",
    }


@pytest.mark.slow
def test_the_bundle_is_the_command_line_under_the_name_bindscope(tmp_path):
    (tmp_path / "bindscope").symlink_to(BUNDLE / "bindscope-app")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "BINDSCOPE_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([tmp_path / "bindscope", "models", "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {m["name"]: m["available"] for m in json.loads(done.stdout)}["demo"]
    done = subprocess.run([BUNDLE / "bindscope-app", "--version"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("bindscope ")
