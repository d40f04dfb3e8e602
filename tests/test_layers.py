"""The layer rules in pyproject.toml ([tool.importlinter]) hold: the engine imports neither Qt nor the interfaces,
the command line not the desktop app, the desktop app not Ray, and the interfaces go through the workspace."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(config: Path) -> subprocess.CompletedProcess:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    return subprocess.run(
        [command, "--config", str(config), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
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
