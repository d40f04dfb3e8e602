"""The layer rules in pyproject.toml ([tool.importlinter]) hold: the engine imports neither Qt nor the interfaces,
the command line not the desktop app, the desktop app not Ray; the interfaces go through the workspace's door (and
the fact tables), and each of the engine's floors imports only the floors below it. A violation is caught."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(config: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    return subprocess.run(
        [command, "--config", str(config), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_the_import_contracts_hold():
    done = lint_imports(ROOT / "pyproject.toml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_contract_is_reported(tmp_path):
    """The same checker, given a rule the code breaks (the app imports the engine's library), fails."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["engine", "app"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "broken on purpose"\ntype = "forbidden"\n'
        'source_modules = ["app.cli"]\nforbidden_modules = ["engine.library"]\n'
    )
    done = lint_imports(config)
    assert done.returncode != 0
    assert "broken on purpose" in done.stdout and "BROKEN" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("app/cli.py", "import engine.indexer", "Only the workspace is a door"),
        ("app/gui/composer.py", "import engine.preprocess.detect", "Only the workspace is a door"),
        ("engine/cluster.py", "import engine.workspace", "The engine's floors"),
        ("engine/search_index.py", "import engine.query", "The engine's floors"),
        ("engine/library/files.py", "import engine.library.database", "The library package"),
        ("engine/modality.py", "import engine.models", "The engine's floors"),
    ],
)
def test_the_project_contracts_catch_a_violation(tmp_path, module, line, contract):
    """The project's own contracts, run over a copy of the code with one import that breaks a rule, report it."""
    for package in ("engine", "app"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / module
    target.write_text(f"{line}\n" + target.read_text())
    done = lint_imports(ROOT / "pyproject.toml", cwd=tmp_path)
    assert done.returncode != 0
    assert done.stdout.count(" BROKEN") == 1, done.stdout
    verdict = re.search(re.escape(contract) + r".*? (KEPT|BROKEN)", done.stdout, re.DOTALL)
    assert verdict and verdict.group(1) == "BROKEN", done.stdout
    assert line.split()[-1] in done.stdout


def test_the_desktop_app_loads_neither_ray_nor_the_cluster_backend():
    """The one import the Ray contract lets pass (the workspace's Ray branch) is never taken by opening the app."""
    code = (
        "import sys, app.gui.main, app.gui.main_window, engine.workspace; "
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith(('ray.', 'engine.cluster'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
