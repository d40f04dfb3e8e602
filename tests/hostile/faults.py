"""Real faults for the storage tests: a child process in its own mount namespace (``unshare -rm``), where it may
mount a tmpfs and unmount it, or bind a folder read-only; even root cannot write through a read-only mount."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_child(script: str, *args, timeout: float = 60) -> subprocess.CompletedProcess:
    """``script`` in a fresh Python with this worktree's engine on its path."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout
    )


def in_mount_namespace(script: str, *args, timeout: float = 60) -> dict:
    """Run ``script`` as root of a new user and mount namespace; it prints one JSON object, returned here.
    Skips when this machine allows no such namespace (unprivileged user namespaces switched off)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1): cannot mount a real drive for this test")
    probe = subprocess.run([unshare, "-rm", "true"], capture_output=True, timeout=10)
    if probe.returncode:
        pytest.skip(f"no user and mount namespaces here ({probe.stderr.decode().strip()}): cannot mount a drive")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [unshare, "-rm", sys.executable, "-c", script, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
