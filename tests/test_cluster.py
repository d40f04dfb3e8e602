"""Indexing on Ray: the same library as in process, shards that import on their own, re-runs that resume.

One local Ray (two CPUs) serves every test here; the tiny model runs on one CPU actor.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from app.cli import main
from engine.cluster import SHARDS
from engine.exchange import schema, write
from engine.library import IMPORTED
from engine.workspace import RayCluster

ray = pytest.importorskip("ray")
# each runs a Ray pipeline (seconds of actor start-up, even for 75 files): one worker runs them all, on one Ray
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray for the whole session: starting one costs seconds."""
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def items_of(workspace) -> dict[str, tuple]:
    """path -> (modality, content hash, status, error kind, error) for every item of a library."""
    return {i.path: (i.modality.value, i.hash, i.status, i.error_kind, i.error) for i in workspace.library.items()}


def as_imported(items: dict[str, tuple]) -> dict[str, tuple]:
    """``items_of`` as an import into another library records them: each hash an imported identity."""
    return {path: (m, IMPORTED + h, *rest) for path, (m, h, *rest) in items.items()}


def vectors_of(workspace, root=None) -> dict[str, np.ndarray]:
    """path (relative to ``root`` when given) -> unit embedding, for every embedded item."""
    library = workspace.library
    key = library.model.key
    found = {}
    for item in library.items(status="embedded"):
        name = item.path if root is None else str(item.path).removeprefix(str(root))
        found[name] = library.embedding(item.id, key)[0]
    return found


def assert_same_vectors(found: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert found.keys() == expected.keys()
    for name, vector in expected.items():
        np.testing.assert_allclose(found[name], vector, atol=1e-4, err_msg=name)
        assert float(found[name] @ vector) >= 0.9999, name


def paths_in(shard) -> set[str]:
    return set(pq.read_table(shard, columns=["path"])["path"].to_pylist())


def shard_paths(folder) -> set[str]:
    return {path for shard in folder.glob("*.parquet") for path in paths_in(shard)}


def run_cli(capsys, *argv) -> dict:
    code = main([str(a) for a in argv])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


@pytest.fixture()
def in_process(make_workspace, mixed_folder):
    return make_workspace(mixed_folder, library="in-process")


def test_the_library_indexed_on_ray_equals_the_one_indexed_in_process(
    ray_cluster, in_process, make_workspace, mixed_folder, tiny_weights, tmp_path, capsys
):
    library = tmp_path / "on-ray"
    summary = run_cli(
        capsys, "index", mixed_folder, "--library", library, "--model", tiny_weights, "--ray", "local",
        "--batch-size", "8", "--json",
    )  # fmt: skip
    assert (summary["added"], summary["embedded"], summary["failed"], summary["offline"]) == (75, 72, 3, 0)
    assert {f["error_kind"] for f in summary["failures"]} == {"EmptyFile", "CorruptFile", "InvalidSignal"}
    on_ray = make_workspace(library="on-ray")
    assert items_of(on_ray) == items_of(in_process)
    assert_same_vectors(vectors_of(on_ray), vectors_of(in_process))
    shards = library / SHARDS
    assert len(list(shards.glob("*.parquet"))) >= 3  # shards of 32 rows, imported one by one
    assert not list(shards.glob("*.partial"))
    assert shard_paths(shards) == set(items_of(in_process))
    assert pq.read_schema(next(shards.glob("*.parquet"))).remove_metadata() == schema(16)

    fresh = make_workspace(library="fresh")
    imported = fresh.import_embeddings(shards)
    assert (imported.rows, imported.failures, imported.invalid) == (75, 3, [])
    assert items_of(fresh) == as_imported(items_of(in_process))
    assert_same_vectors(vectors_of(fresh), vectors_of(on_ray))


def split_into_shards(workspace, folder, parts: int) -> list:
    """The library's export cut into ``parts`` shards in the interchange format."""
    export = workspace.export(folder.parent / "export.parquet", include_failures=True)  # as cluster shards do
    columns = pq.read_table(folder.parent / "export.parquet").to_pydict()
    embeddings = np.array([np.full(16, np.nan) if e is None else e for e in columns.pop("embedding")], np.float32)
    folder.mkdir()
    size = -(-export // parts)
    return [
        write(folder / f"part-{n}.parquet", {k: v[n * size : (n + 1) * size] for k, v in columns.items()},
              embeddings[n * size : (n + 1) * size], workspace.library.model)
        for n in range(parts)
    ]  # fmt: skip


def test_a_rerun_after_the_driver_was_killed_embeds_only_what_is_missing(
    ray_cluster, in_process, make_workspace, mixed_folder, tmp_path
):
    shards = tmp_path / "shards"
    written = split_into_shards(in_process, shards, 4)
    # What a driver killed mid-run leaves: the files scanned, a shard imported, shards complete but not imported,
    # one never finished, one half-written under its temporary name.
    resumed = make_workspace(library="resumed")
    resumed.scan([mixed_folder])
    resumed.import_embeddings(written[0], trusted=True)  # as the killed driver imported it
    lost = paths_in(written[1])
    written[1].unlink()
    (shards / f"{written[2].name}.0123abcd.partial").write_bytes(written[2].read_bytes()[:200])
    before = set(shards.glob("*.parquet"))

    report = resumed.index([mixed_folder], batch_size=8, backend=RayCluster("local", shards))

    new = set(shards.glob("*.parquet")) - before
    assert new and set().union(*(paths_in(shard) for shard in new)) == lost
    assert report.embed.embedded + report.embed.failed == 75 - pq.read_metadata(written[0]).num_rows
    assert items_of(resumed) == items_of(in_process)
    assert_same_vectors(vectors_of(resumed), vectors_of(in_process))


def test_embed_shards_writes_the_desktops_paths_for_a_library_elsewhere(
    ray_cluster, in_process, make_workspace, mixed_folder, tiny_weights, tmp_path, capsys
):
    out = tmp_path / "from-the-cluster"
    summary = run_cli(
        capsys, "embed-shards", mixed_folder, "--model", tiny_weights, "--out", out, "--ray", "local",
        "--strip-prefix", mixed_folder, "--prefix", "/Volumes/archive", "--batch-size", "8", "--json",
    )  # fmt: skip
    assert (summary["files"], summary["embedded"], summary["failed"], summary["ignored"]) == (75, 72, 3, 1)
    assert sorted(summary["shards"]) == sorted(str(p) for p in out.glob("*.parquet"))
    assert all(path.startswith("/Volumes/archive/") for path in shard_paths(out))

    desktop = make_workspace(library="desktop")
    imported = desktop.import_embeddings(out)
    assert (imported.rows, imported.failures, imported.invalid) == (75, 3, [])
    expected = {p.replace(str(mixed_folder), "/Volumes/archive"): row for p, row in items_of(in_process).items()}
    assert items_of(desktop) == as_imported(expected)
    assert_same_vectors(vectors_of(desktop, "/Volumes/archive"), vectors_of(in_process, mixed_folder))
