"""The wheel as a user gets it: built, installed into a fresh environment, and run from another folder.

The environment sees this interpreter's site-packages through a ``.pth`` line (the dependencies, gigabytes of
PyTorch, are not installed again) but not the checkout: its ``engine`` and ``app`` come from the wheel.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv with the freshly built wheel installed; returns its bin folder."""
    pytest.importorskip("build", reason="the wheel is built with `build` (the dev extra)")
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(work / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = (work / "dist").glob("bindscope-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [purelib] = (venv / "lib").glob("python*/site-packages")
    (purelib / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return venv / "bin"


def bindscope(bin_dir: Path, cwd: Path, *argv) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(BINDSCOPE_CACHE_DIR=str(cwd / "cache"), BINDSCOPE_LIBRARY=str(cwd / "library"))
    return subprocess.run(
        [str(bin_dir / "bindscope"), *map(str, argv)], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_the_installed_wheel_indexes_and_searches_the_demo_from_another_folder(installed, tmp_path):
    done = bindscope(installed, tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.startswith("bindscope "), done.stderr

    done = bindscope(installed, tmp_path, "models", "--json")
    demo = {m["name"]: m for m in json.loads(done.stdout)}["demo"]
    assert demo["available"] and demo["active"], demo
    assert Path(demo["path"]).is_relative_to(installed.parent), "the demo model comes from the wheel, not the checkout"

    done = bindscope(installed, tmp_path, "demo", "--out", "gallery", "--per-concept", "1", "--json")
    assert done.returncode == 0, done.stderr
    done = bindscope(installed, tmp_path, "index", "gallery/images", "gallery/audio", "--device", "cpu", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["embedded"] == 24 and summary["failed"] == 0 and summary["model"] == "demo"

    done = bindscope(installed, tmp_path, "search", "--text", "a photo of a dog", "-k", "3", "--json")
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)["results"]["vision"]
    assert len(hits) == 3 and "dog" in Path(hits[0]["path"]).name


def test_missing_demo_weights_are_named_not_swapped(installed, tmp_path):
    models = json.loads(bindscope(installed, tmp_path, "models", "--json").stdout)
    weights = Path(next(m["path"] for m in models if m["name"] == "demo"))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "dog.txt").write_text("a dog barking")
    moved = weights.with_suffix(".moved")
    weights.rename(moved)
    try:
        done = bindscope(installed, tmp_path, "index", "notes", "--model", "demo", "--json")
    finally:
        moved.rename(weights)
    assert done.returncode == 2
    assert json.loads(done.stdout)["message"].startswith(
        "the BindScope demo weights are missing from this installation"
    )
