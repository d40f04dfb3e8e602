"""Filters (folder, glob, date range, modality, minimum score) in the search, the browse listing and the map mask:
a filtered search returns k whenever k pass, and equals exact filtered search by brute force."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import filters as filters_module
from engine.exchange import import_embeddings, write
from engine.filters import Filtering
from engine.library import Filter, Library
from engine.modality import Modality
from engine.search_index import Effort, SearchIndex
from engine.workspace import Term, Workspace, WorkspaceError
from tests.libraries import clustered, synthetic_ref

N = 600
KINDS = ["vision", "audio", "depth"]
FOLDERS = ["/archive/a", "/archive/a/deep", "/archive/b", "/other"]
EXTENSIONS = {"vision": "jpg", "audio": "wav", "depth": "png"}


def facts(count: int):
    """Item n's modality, path and date: spread over four folders (one inside another) and 100 days."""
    rng = np.random.default_rng(3)
    modalities = [KINDS[k] for k in rng.integers(3, size=count)]
    folders = [FOLDERS[k] for k in rng.integers(4, size=count)]
    paths = [f"{folder}/{n:05d}.{EXTENSIONS[m]}" for n, (folder, m) in enumerate(zip(folders, modalities, strict=True))]
    mtimes = (1.7e9 + rng.integers(100, size=count) * 86400.0).tolist()
    return modalities, paths, mtimes


def make_library(folder, vectors, duplicates: int = 0) -> Library:
    """Items 1..N with these vectors; the last ``duplicates`` items repeat the first ones' content elsewhere."""
    modalities, paths, mtimes = facts(len(vectors))
    hashes = [f"h{n}" for n in range(len(vectors))]
    for n in range(duplicates):
        at = len(vectors) - duplicates + n
        modalities[at], hashes[at], vectors[at] = modalities[n], hashes[n], vectors[n]
    columns = {"modality": modalities, "path": paths, "scale": [1.0] * len(paths), "hash": hashes, "mtime": mtimes}
    folder.mkdir(parents=True, exist_ok=True)
    library = Library(folder / "lib")
    import_embeddings(library, write(folder / "v.parquet", columns, vectors, synthetic_ref(vectors.shape[1])))
    return library


def passes(chosen: Filter, modality: str, path: str, mtime: float) -> bool:
    """The filter's meaning, written out for the brute force."""
    from fnmatch import fnmatchcase

    pattern = chosen.glob if not chosen.glob or chosen.glob.startswith(("/", "*")) else "*/" + chosen.glob
    return (
        (not chosen.under or path.startswith(chosen.under.rstrip("/") + "/"))
        and (not pattern or fnmatchcase(path, pattern))
        and (chosen.since is None or mtime >= chosen.since)
        and (chosen.until is None or mtime < chosen.until)
        and (not chosen.modalities or Modality(modality) in chosen.modalities)
    )


def brute_force(vectors, chosen: Filter, query, modality: str, k: int) -> list[int]:
    modalities, paths, mtimes = facts(len(vectors))
    rows = [
        n
        for n in range(len(vectors))
        if modalities[n] == modality and passes(chosen, modalities[n], paths[n], mtimes[n])
    ]
    scores = {n: float(vectors[n] @ query) for n in rows}
    return [n + 1 for n in sorted(rows, key=lambda n: (-scores[n], n))[:k]]


DAY = 86400.0
filters = st.builds(
    Filter,
    under=st.sampled_from([None, "/archive", "/archive/a", "/archive/a/", "/other", "/nowhere"]),
    glob=st.sampled_from([None, "*.wav", "deep/*", "/archive/*/0*"]),
    since=st.sampled_from([None, 1.7e9 + 20 * DAY, 1.7e9 + 95 * DAY]),
    until=st.sampled_from([None, 1.7e9 + 50 * DAY, 1.7e9 + 21 * DAY]),
    modalities=st.sampled_from([(), (Modality.AUDIO,), (Modality.VISION, Modality.DEPTH)]),
)


@pytest.fixture(scope="module")
def exact_library(tmp_path_factory):
    vectors = clustered(N, 16, clusters=12)
    return vectors, Workspace(make_library(tmp_path_factory.mktemp("filters"), vectors.copy()))


@contextmanager
def walking(walk: bool):
    """Every modality searched by walking the ranking (``walk``), or inside the index (the default here)."""
    saved = filters_module.INSIDE_UP_TO, filters_module.WALK_FROM
    if walk:
        filters_module.INSIDE_UP_TO, filters_module.WALK_FROM = -1, 10**9
    try:
        yield
    finally:
        filters_module.INSIDE_UP_TO, filters_module.WALK_FROM = saved


@settings(max_examples=60, deadline=None)
@given(chosen=filters, k=st.integers(1, 40), query_row=st.integers(0, N - 1), walk=st.booleans())
def test_filtered_search_equals_brute_force(exact_library, chosen, k, query_row, walk):
    vectors, workspace = exact_library
    query = vectors[query_row] + 0.3 * vectors[(query_row * 7) % N]
    query /= np.linalg.norm(query)
    index = workspace.search_index()
    with walking(walk):
        allowed = Filtering().allowed(workspace.library, index.key, chosen)
    assert all(not len(rows) for rows in allowed.rows.values()) or not walk
    found = index.search(query, k, allowed=allowed)
    for modality in Modality:
        if modality.value not in KINDS:
            continue
        expected = brute_force(vectors, chosen, query, modality.value, k)
        assert [h.item_id for h in found.get(modality, [])] == expected


def test_a_filtered_search_returns_k_when_k_pass_and_cuts_below_the_minimum_score(exact_library):
    vectors, workspace = exact_library
    modalities, paths, _ = facts(N)
    # The items of /other are about a quarter: the unfiltered top 10 of a modality hold only a few of them.
    chosen = Filter(under="/other")
    outcome = workspace.search([Term.item(1)], 10, filter=chosen)
    for modality, hits in outcome.results.by_modality.items():
        assert len(hits) == 10, modality
        assert all(outcome.items[h.item_id].path.startswith("/other/") for h in hits)
    floor = outcome.results.by_modality[Modality.AUDIO][4].score
    cut = workspace.search([Term.item(1)], 10, filter=Filter(under="/other", min_score=floor))
    assert [h.score for h in cut.results.by_modality[Modality.AUDIO]] == [
        h.score for h in outcome.results.by_modality[Modality.AUDIO][:5]
    ]
    only = workspace.search([Term.item(1)], 5, filter=Filter(modalities=(Modality.DEPTH,)))
    assert list(only.results.by_modality) == [Modality.DEPTH]


def test_approximate_filtered_search_keeps_k_and_the_prefix_property(tmp_path):
    """Above the threshold, with too few allowed rows in the probed lists: FAISS proposes allowed rows only, and
    the tiers widen until k are found; the result for k is the first k of the result for 3k."""
    vectors = clustered(3000, 16, clusters=30)
    library = make_library(tmp_path, vectors.copy())
    index = SearchIndex(library, library.model.key, approximate_from=500, effort=Effort(rerank=40, scanned=200))
    index.maintain(final=True)
    assert index.describe()["audio"]["approximate"] > 0
    chosen = Filter(under="/archive/a/deep", since=1.7e9 + 10 * DAY)
    allowed = Filtering().allowed(library, index.key, chosen)
    from engine import search_index

    for exact_up_to in (0, search_index.EXACT_SUBSET):  # through the selector, and exactly
        search_index.EXACT_SUBSET, saved = exact_up_to, search_index.EXACT_SUBSET
        try:
            for row in (0, 17, 400):
                short = index.search(vectors[row], 12, allowed=allowed)
                long = index.search(vectors[row], 36, allowed=allowed)
                for modality, hits in long.items():
                    passing = len(allowed.rows[modality])
                    assert len(hits) == min(36, passing) and len(short[modality]) == min(12, passing)
                    assert short[modality] == hits[:12]
                    assert allowed.admits([h.item_id for h in hits]).all()
        finally:
            search_index.EXACT_SUBSET = saved


def test_duplicates_are_named_only_when_they_pass(tmp_path):
    """Two items share a vector row (same content): a filter letting one through names only that one."""
    vectors = clustered(200, 8, clusters=4)
    library = make_library(tmp_path, vectors.copy(), duplicates=20)
    workspace = Workspace(library)
    modalities, paths, _ = facts(200)
    folder_of = {n: paths[n].rsplit("/", 1)[0] for n in range(200)}
    twin = next(n for n in range(20) if not paths[n].startswith(folder_of[180 + n] + "/"))
    chosen = Filter(under=folder_of[180 + twin])
    hits = workspace.search([Term.item(1 + (twin + 1) % 20)], 200, filter=chosen)
    named = {h.item_id for group in hits.results.by_modality.values() for h in group}
    assert 181 + twin in named and 1 + twin not in named


def test_listing_pages_by_path_and_date_and_counts(exact_library):
    vectors, workspace = exact_library
    modalities, paths, mtimes = facts(N)
    chosen = Filter(under="/archive/a", modalities=(Modality.AUDIO, Modality.DEPTH))
    expected = [n + 1 for n in range(N) if passes(chosen, modalities[n], paths[n], mtimes[n])]
    assert workspace.count(chosen) == len(expected)
    by_path = [i.id for start in range(0, len(expected) + 7, 7) for i in workspace.listing(chosen, "path", start, 7)]
    assert by_path == sorted(expected, key=lambda i: paths[i - 1])
    by_date = [i.id for i in workspace.listing(chosen, "date", 0, 1000)]
    assert by_date == sorted(expected, key=lambda i: (mtimes[i - 1], i))
    assert workspace.listing(chosen, "date", len(expected), 10) == []
    with pytest.raises(WorkspaceError, match="sort by"):
        workspace.listing(chosen, "size")
    assert workspace.has_folder("/archive/a/deep") and not workspace.has_folder("/archive/a/dee")


def test_map_mask_shows_what_the_filter_lets_through(exact_library):
    vectors, workspace = exact_library
    modalities, paths, mtimes = facts(N)
    ids = np.array([5, 1, 77, 300, 599, 600])
    chosen = Filter(glob="*.wav", since=1.7e9 + 30 * DAY)
    from engine.workspace import MapData, Projection

    data = MapData(Projection(ids, np.array(["x"] * len(ids)), np.zeros((len(ids), 2), np.float32), "pca"))
    mask = workspace.map_mask(chosen, data)
    assert mask.tolist() == [passes(chosen, modalities[i - 1], paths[i - 1], mtimes[i - 1]) for i in ids]
    assert workspace.map_mask(Filter(min_score=0.5), data).all()
    clustered_map = MapData(data.projection, np.arange(len(ids)), {0: [("dog", 0.9)]})
    kept = clustered_map.only(mask)
    assert (
        kept.projection.ids.tolist() == ids[mask].tolist() and kept.clusters.tolist() == np.flatnonzero(mask).tolist()
    )


def test_a_library_made_before_the_date_index_gets_it_when_opened(tmp_path):
    library = Library(tmp_path / "lib")
    library._db.execute("DROP INDEX items_mtime")
    library.close()
    reopened = Library(tmp_path / "lib")
    names = {row[0] for row in reopened._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "items_mtime" in names


def cli(capsys, *argv) -> tuple[int, str, str]:
    from app.cli import main

    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def local_date(day: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(1.7e9 + day * DAY).date().isoformat()


def test_cli_search_with_filter_flags(capsys, exact_library):
    vectors, workspace = exact_library
    modalities, paths, mtimes = facts(N)
    code, out, _ = cli(
        capsys,
        *("search", "--item", 1, "-k", 5, "--library", workspace.folder, "--json", "--under", "/other"),
        *("--since", local_date(20), "--until", local_date(49), "--modality", "audio", "--modality", "depth"),
    )
    assert code == 0
    results = json.loads(out)["results"]
    chosen = Filter(under="/other", since=1.7e9 + 20 * DAY, until=1.7e9 + 50 * DAY)
    assert set(results) == {"audio", "depth"}
    for modality, hits in results.items():
        expected = [i for i in brute_force(vectors, chosen, vectors[0], modality, 6) if i != 1][:5]
        assert [h["id"] for h in hits] == expected and len(expected) == 5


def test_cli_list_pages_the_filtered_items(capsys, exact_library):
    vectors, workspace = exact_library
    modalities, paths, mtimes = facts(N)
    chosen = Filter(glob="*.wav", since=1.7e9 + 20 * DAY)
    expected = sorted(
        (n + 1 for n in range(N) if passes(chosen, modalities[n], paths[n], mtimes[n])),
        key=lambda i: (mtimes[i - 1], i),
    )
    argv = ("list", "--library", workspace.folder, "--glob", "*.wav", "--since", local_date(20), "--sort", "date")
    code, out, _ = cli(capsys, *argv, "--offset", 3, "--limit", 4, "--json")
    listed = json.loads(out)
    assert code == 0 and listed["total"] == len(expected)
    assert [i["id"] for i in listed["items"]] == expected[3:7]
    code, out, err = cli(capsys, *argv, "--offset", 3, "--limit", 4)
    assert code == 0 and f"4-7 of {len(expected)} items" in err and paths[expected[3] - 1] in out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--since", "2024-13-01"), "is not a date"),
        (("--until", "yesterday"), "is not a date"),
        (("--since", "2024-05-02", "--until", "2024-05-01"), "--since is after --until"),
        (("--under", "/nowhere/at/all"), "no item of the library is under this folder (and there is no such folder"),
        (("--min-score", "3"), "from -1 to 1"),
    ],
)
def test_cli_refuses_bad_filters_with_the_reason(capsys, exact_library, flags, message):
    _, workspace = exact_library
    code, out, err = cli(capsys, "search", "--item", 1, "--library", workspace.folder, *flags, "--json")
    assert code == 2 and message in json.loads(out)["message"]


def test_names_that_are_not_utf8_pass_folder_and_glob_filters(make_workspace, tmp_path, capsys):
    """Such a path is stored as its bytes; a typed folder or pattern (str, surrogate-escaped as the command line
    gives it) is compared in that form too."""
    from tests.files import write_image

    photos = tmp_path / "photos"
    raw_folder = os.fsdecode(os.fsencode(photos) + b"/d\xe9j\xe0")  # a folder whose own name is not UTF-8
    os.makedirs(raw_folder)
    for name in (b"caf\xe9.png", b"plain.png"):
        write_image(Path(os.fsdecode(os.fsencode(photos) + b"/" + name)))
    write_image(Path(raw_folder) / "inside.png")
    workspace = make_workspace()
    workspace.scan([photos])
    assert workspace.count() == 3
    for chosen, expected in (
        (Filter(under=str(photos)), 3),
        (Filter(under=raw_folder), 1),
        (Filter(under=str(tmp_path)), 3),
        (Filter(glob="*.png"), 3),
        (Filter(glob="caf*"), 1),
        (Filter(glob=os.fsdecode(b"caf\xe9.png")), 1),
        (Filter(glob=os.fsdecode(b"*/d\xe9j\xe0/*")), 1),
        (Filter(under=str(photos), glob="*.png", modalities=(Modality.VISION,)), 3),
    ):
        assert workspace.count(chosen) == expected, chosen
        assert len(workspace.listing(chosen, "path", limit=10)) == expected, chosen
        assert bool(workspace.has_folder(chosen.under)) if chosen.under else True
    ids = np.array([item.id for item in workspace.listing(limit=10)], np.int64)
    modalities = np.array(["vision"] * len(ids))
    names = {item.id: os.path.basename(item.path) for item in workspace.listing(limit=10)}
    mask = workspace.filtering.mask(workspace.library, Filter(under=str(photos), glob="caf*"), ids, modalities)
    assert [names[i] for i in ids[mask]] == [os.fsdecode(b"caf\xe9.png")]
    workspace.close()
    for flags, total in (
        (("--under", raw_folder), 1),
        (("--glob", os.fsdecode(b"caf\xe9*")), 1),
        (("--under", photos), 3),
    ):
        code, out, _ = cli(capsys, "list", "--library", tmp_path / "lib", *flags, "--json")
        assert code == 0 and json.loads(out)["total"] == total, flags
