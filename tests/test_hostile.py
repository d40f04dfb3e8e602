"""Hostile input and faults (issue 12): nothing hangs, nothing crashes a batch, nothing wrong is stored, nothing
is lost. Each test makes the file or the fault it describes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.indexer import scan
from engine.library import Library, hash_file
from engine.modality import Modality
from engine.workspace import Term
from tests.files import write_image, write_imu_csv
from tests.test_crash_safety import assert_consistent

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, user: int | None = None, timeout: float = 120, **options) -> subprocess.CompletedProcess:
    """``python main.py ARGS`` in a fresh process (as another user when ``user`` is given)."""
    command = [sys.executable, str(ROOT / "main.py"), *map(str, args)]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BINDSCOPE_CACHE_DIR": options.pop("cache", "/nonexistent")}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, **options)


@pytest.fixture()
def public_tmp(tmp_path_factory):
    """A folder an unprivileged user can reach: outside pytest's own tree, which is private to root and which any
    pytest starting meanwhile makes private again (a reader would meet "Permission denied" mid-test)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="bindscope-test-"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def indexed(library: Path, folder: Path, weights: Path) -> None:
    """``folder`` indexed into a new library with the tiny model."""
    from engine.workspace import Workspace

    workspace = Workspace.open(library, create=True, model=str(weights), device="cpu")
    workspace.index([folder])
    workspace.close()


def finishes(target, seconds: float = 60) -> None:
    """Run ``target`` and fail (instead of hanging the suite) if it does not return."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{target} did not finish in {seconds} s"
    if errors:
        raise errors[0]


def test_fifos_devices_and_symlink_loops_never_hang_or_stop_a_scan(tmp_path):  # rows 1 and 3
    folder = tmp_path / "h"
    write_image(folder / "a.png")
    os.mkfifo(folder / "p.wav")
    (folder / "z.wav").symlink_to("/dev/zero")
    (folder / "r.png").symlink_to("/dev/urandom")
    (folder / "self.png").symlink_to(folder / "self.png")
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    library = Library(tmp_path / "lib")
    reports = []
    finishes(lambda: reports.append(scan(library, folder)))
    report = reports[0]
    assert report.added == 1 and report.ignored == 3
    assert sum("not a regular file" in w for w in report.warnings) == 3
    assert any("self.png" in w and "symlink loop" in w for w in report.warnings)
    with pytest.raises(OSError, match="not a regular file"):
        hash_file(folder / "p.wav")  # opened without blocking, refused after opening


def test_a_spike_never_becomes_a_nan_vector(tmp_path, make_workspace):  # row 2
    folder = tmp_path / "n"
    folder.mkdir()
    (folder / "s_imu.csv").write_text("ax,ay,az,gx,gy,gz\n1e25,0,0,0,0,0\n0,0,0,0,0,0\n")
    write_imu_csv(folder / "fine_imu.csv")
    workspace = make_workspace(folder)
    spike = workspace.library.item_by_path(folder / "s_imu.csv")
    assert spike.status == "failed" and spike.error_kind == "InvalidSignal"
    assert workspace.library.item_by_path(folder / "fine_imu.csv").status == "embedded"
    assert workspace.index().embed.failed == 0  # the next run neither crashes nor retries a permanent failure
    assert_consistent(workspace.folder)


def test_undecodable_file_names_are_stored_losslessly_and_shown_readably(tmp_path, make_workspace, tiny_weights):  # 4
    folder = tmp_path / "u"
    raw = os.fsencode(str(folder)) + b"/bad\xff.jpg"
    folder.mkdir()
    shutil.copy(write_image(tmp_path / "dog.jpg"), raw)
    workspace = make_workspace(folder)
    [item] = workspace.library.items()
    assert os.fsencode(item.path) == raw and item.status == "embedded" and item.name == "bad\ufffd.jpg"
    assert workspace.library.item_by_path(os.fsdecode(raw)).id == item.id
    result = cli("search", "--library", workspace.folder, "--text", os.fsdecode(b"dog\xff"), "--json", "-k", "1")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["merged"][0]["path"].endswith("bad\ufffd.jpg") and payload["query"][0]["value"] == "dog\ufffd"


def test_a_file_replaced_after_the_scan_is_never_stored_under_the_old_hash(tmp_path, make_workspace, world):  # 5
    folder = tmp_path / "images"
    folder.mkdir()
    originals = sorted((world / "images").iterdir())
    target = folder / "train.png"
    shutil.copy(originals[0], target)
    workspace = make_workspace()
    workspace.scan([folder])
    old_hash = workspace.library.item_by_path(target).hash
    shutil.copy(originals[1], target)  # replaced while "embedding" shows
    workspace.embed()
    item = workspace.library.item_by_path(target)
    assert item.hash == hash_file(target) != old_hash and item.status == "embedded"
    assert workspace.library.embedding_by_hash(old_hash, Modality.VISION, workspace.library.model.key) is None
    shutil.copy(originals[0], folder / "zz.png")  # a later exact copy of the old content gets its own vector
    workspace.index()
    twin = workspace.library.item_by_path(folder / "zz.png")
    hits = workspace.search([Term.item(twin.id)], k=1, modalities=[Modality.VISION]).results.merged
    assert hits[0].item_id == item.id and hits[0].score < 0.9999


def test_transient_failures_are_retried_and_vanishing_files_go_offline(tmp_path, make_workspace, monkeypatch):  # 7
    import engine.preprocess.image as image
    from engine.preprocess.errors import UnreadableFile

    folder = tmp_path / "photos"
    for n in range(4):
        write_image(folder / f"{n}.png", seed=n)
    workspace = make_workspace()
    original = image.load_image
    monkeypatch.setattr(
        image, "load_image", lambda path, *a, **k: (_ for _ in ()).throw(UnreadableFile(path, "I/O error"))
    )
    workspace.index([folder])
    assert workspace.library.count("failed") == 4
    monkeypatch.setattr(image, "load_image", original)
    report = workspace.index()
    assert report.scan.unchanged == 4 and report.embed.embedded == 4 and workspace.library.count("failed") == 0
    write_image(folder / "late.png", seed=9)
    workspace.scan([folder])
    (folder / "late.png").unlink()  # gone between the scan and the encoder
    report = workspace.embed()
    late = workspace.library.item_by_path(folder / "late.png")
    assert report.offline == 1 and late.missing and late.status == "pending"


def test_an_unreadable_root_keeps_its_items(public_tmp, tiny_weights, world):  # row 8, as a user without privileges
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to drop to an unprivileged user with setpriv")
    root, library = public_tmp / "root", public_tmp / "lib"
    shutil.copytree(world / "text", root)
    indexed(library, root, tiny_weights)
    for path in (library, *library.rglob("*")):
        os.chmod(path, 0o777 if path.is_dir() else 0o666)
    os.chmod(root, 0)
    try:
        result = cli("index", "--library", library, "--json", user=65534)
    finally:
        os.chmod(root, 0o755)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["removed"] == 0 and any("unreadable" in w for w in summary["warnings"])
    assert Library(library).count("embedded") == 12


def test_a_tree_deeper_than_python_recursion(tmp_path):  # row 9
    folder = tmp_path / "deep"
    path = str(folder)
    os.mkdir(path)
    for _ in range(1100):  # built a level at a time: os.makedirs itself recurses
        path += "/d"
        os.mkdir(path)
    write_image(Path(path) / "bottom.png")
    try:
        library = Library(tmp_path / "lib")
        assert scan(library, folder).added == 1
    finally:  # bottom-up, a level at a time: shutil.rmtree (and pytest's clean-up) would recurse too deep
        os.remove(Path(path) / "bottom.png")
        while path != str(folder):
            os.rmdir(path)
            path = os.path.dirname(path)


def test_broken_checkpoint_metadata_is_one_line_and_exit_2(tmp_path):  # row 10
    broken = tmp_path / "broken.safetensors"
    data = bytearray((ROOT / "engine" / "resources" / "models" / "demo.safetensors").read_bytes())
    header = int.from_bytes(data[:8], "little")
    text = data[8 : 8 + header].decode()
    data[8 : 8 + header] = text.replace('"bindscope.config":"{', '"bindscope.config":"[', 1).encode()
    broken.write_bytes(bytes(data))
    write_image(tmp_path / "f" / "a.png")
    result = cli("index", tmp_path / "f", "--library", tmp_path / "lib", "--model", broken, "--json")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "broken.safetensors" in result.stderr
    assert json.loads(result.stdout)["error"]


def test_cli_failures_exit_2_with_json_and_a_damaged_database_is_reported(tmp_path, make_workspace, world):  # 12
    workspace = make_workspace(world / "text")
    library = workspace.folder
    workspace.close()
    for args in (
        ("map", "--library", library, "--out", tmp_path / "missing" / "map.png"),
        ("export", "--library", library, "--out", tmp_path / "missing" / "e.parquet"),
        ("status", "--library", tmp_path / "no-library"),
    ):
        result = cli(*args, "--json")
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert set(json.loads(result.stdout)) == {"error", "message"}
    shutil.rmtree(library / "cache", ignore_errors=True)
    (library / "cache").write_text("x")  # cache/ is a regular file: search still answers, from memory
    result = cli("search", "--library", library, "--item", "1", "--json", "-k", "2")
    assert result.returncode == 0, result.stderr
    database = library / "library.sqlite"
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'items_hash'").fetchone()[0]
    with database.open("r+b") as handle:  # damage one page of an index
        handle.seek((root - 1) * page + 16)
        handle.write(os.urandom(page - 32))
    result = cli("status", "--library", library, "--json")
    assert result.returncode == 2 and json.loads(result.stdout)["health"] != "ok"


def test_a_full_disk_stops_indexing_cleanly(tmp_path, world, tiny_weights):  # row 12, disk full
    disk = tmp_path / "small"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", disk]).returncode:
        pytest.skip("cannot mount a small file system here")
    try:
        folder = tmp_path / "photos"
        for n in range(300):
            write_image(folder / f"{n:03d}.png", seed=n)
        result = cli("index", folder, "--library", disk / "lib", "--model", tiny_weights, "--device", "cpu", "--json")
        assert result.returncode == 2 and "disk is full" in result.stderr, result.stderr
        assert json.loads(result.stdout)["error"] == "DiskFull"
        library = assert_consistent(disk / "lib")
        assert library.count() > 0
    finally:
        subprocess.run(["umount", "--lazy", disk])


def test_a_read_only_library_can_be_read(public_tmp, tiny_weights, world):  # row 15
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to drop to an unprivileged user with setpriv")
    library, out = public_tmp / "lib", public_tmp / "out"
    indexed(library, world / "text", tiny_weights)
    out.mkdir()
    os.chmod(out, 0o777)  # the export's own folder: the library's is read-only to this user
    for args in (("status",), ("search", "--item", "1", "-k", "2"), ("export", "--out", out / "ro.parquet")):
        result = cli(*args[:1], "--library", library, *args[1:], "--json", user=65534)
        assert result.returncode == 0, result.stderr
    result = cli("index", "--library", library, "--json", user=65534)
    assert result.returncode == 2 and "read-only" in json.loads(result.stdout)["message"]


def test_a_symlinked_item_whose_target_is_deleted_goes_offline(tmp_path, make_workspace, world):  # row 15
    folder = tmp_path / "links"
    folder.mkdir()
    target = shutil.copy(sorted((world / "images").iterdir())[0], tmp_path / "target.jpg")
    (folder / "link.jpg").symlink_to(target)
    workspace = make_workspace(folder)
    Path(target).unlink()
    report = workspace.index()
    assert report.scan.missing == 1 and workspace.library.item_by_path(target).missing


def test_ctrl_c_during_a_scan_exits_1_without_a_traceback(tmp_path, tiny_weights):  # row 15
    folder = tmp_path / "many"
    for n in range(60):
        (folder / f"{n:02d}").mkdir(parents=True)
        for m in range(40):
            (folder / f"{n:02d}" / f"{m}.txt").write_text(f"caption {n} {m}")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "main.py"), "index", str(folder), "--library", str(tmp_path / "lib")]
    process = subprocess.Popen(
        [*command, "--model", str(tiny_weights), "--device", "cpu"], env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "lib" / "library.sqlite").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "Traceback" not in err and "interrupted" in err


def test_query_weights_and_k_are_validated_by_the_engine(make_workspace, world):  # row 13
    from engine.query import QueryError

    workspace = make_workspace(world / "text")
    with pytest.raises(QueryError, match="finite"):
        workspace.search([Term.item(1, float("nan"))])
    with pytest.raises(QueryError, match="at least 1"):
        workspace.search([Term.item(1)], k=-1)
    assert np.isfinite(workspace.search([Term.item(1)], k=2).results.vector).all()
