"""Facts about a big file worked out once and remembered while the file is unchanged (same path, size and
modification time), so a 4.5 GB checkpoint is not read through again at every start."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

_MEMORY = "fingerprints.json"  # in the model cache; the name predates its second use


def remembered(path: Path, what: str, work_out: Callable[[], str]) -> str:
    """``work_out()`` for this file, or what it gave before for the file as it is now. ``what`` names the fact
    ("" for the file's hash, as the first fact was stored). A read-only cache only costs the work again."""
    from engine.models.zoo import cache_dir

    info = path.stat()
    key = f"{what + '|' if what else ''}{path.resolve()}|{info.st_size}|{info.st_mtime_ns}"
    memory = cache_dir() / _MEMORY
    try:
        known = json.loads(memory.read_text())
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    if isinstance(known.get(key), str):
        return known[key]
    known[key] = work_out()
    try:
        memory.parent.mkdir(parents=True, exist_ok=True)
        temporary = memory.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(known))
        temporary.replace(memory)
    except OSError:
        pass
    return known[key]
