"""Moments in a library: indexing stores the windows of long recordings, searches rank them, and they follow
their file's content (kept when it moves, dropped when it changes or is forgotten)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import soundfile

from engine.library import Library
from engine.library.schema import DATABASE
from engine.modality import Modality
from engine.preprocess import CorruptFile
from engine.query import QueryError, Term

RATE = 16000


def sound(path, seconds: float, pitch: float = 220.0, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    samples = 0.4 * np.sin(2 * np.pi * pitch * t * (1 + t / seconds)) + rng.normal(0, 0.05, len(t))
    soundfile.write(path, samples.astype(np.float32), RATE, subtype="FLOAT")


@pytest.fixture()
def recordings(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    sound(folder / "long.wav", 16.0)  # windows of 6 s every 3 s: 0-6, 3-9, 6-12, 9-15, 10-16
    sound(folder / "short.wav", 3.0, pitch=440.0, seed=1)  # no longer than a window: no segments
    return folder


def _stored(workspace) -> tuple[int, int]:
    """(segments held, segment vector rows written) under the library's model."""
    library = workspace.library
    key = library.key_of(library.model)
    return sum(library.segment_counts(key).values()), sum(library.segment_rows(key).values())


def test_index_stores_windows_and_a_moments_search_is_the_exact_ranking(recordings, make_workspace):
    workspace = make_workspace(recordings)
    assert workspace.summary().segments == {"audio": 5}
    short = workspace.item(str(recordings / "short.wav"))
    long = workspace.item(str(recordings / "long.wav"))
    found = workspace.search([Term.item(short.id)], k=10, moments=True).moments
    library = workspace.library
    key = library.key_of(library.model)
    query = library.embedding(short.id, key)[0]
    spans = library.segments_of(key, long.id)
    vectors = library.segment_store(key).view(Modality.AUDIO, 5)
    scores = {(start, end): float(vectors[row] @ query) for start, end, row in spans}
    assert sorted(scores) == [(0, 6), (3, 9), (6, 12), (9, 15), (10, 16)]
    assert [(m.item_id, m.start, m.end) for m in found] == [
        (long.id, *span) for span in sorted(scores, key=lambda s: -scores[s])
    ]
    assert [m.score for m in found] == pytest.approx(sorted(scores.values(), reverse=True), abs=1e-6)
    assert [(m.start, m.end) for m in workspace.search([Term.item(short.id)], k=2, moments=True).moments] == [
        (m.start, m.end) for m in found[:2]
    ]
    assert workspace.search([Term.item(short.id)], moments=True, modalities=[Modality.IMU]).moments == []
    whole = workspace.search([Term.item(short.id)], k=10)  # a search for files: the file hit says where it matches
    assert [(m.start, m.end, m.score) for m in whole.best_moments(long.id)] == [
        (m.start, m.end, m.score) for m in found[:3]
    ]
    assert whole.best_moments(short.id) == [] and whole.moments == []


def test_segments_follow_the_content(recordings, make_workspace):
    workspace = make_workspace(recordings)
    assert _stored(workspace) == (5, 5)
    (recordings / "long.wav").rename(recordings / "moved.wav")
    workspace.index()
    assert _stored(workspace) == (5, 5)  # moved: kept, nothing embedded again
    sound(recordings / "moved.wav", 13.0, pitch=300.0, seed=2)  # new content: 0-6, 3-9, 6-12, 7-13
    workspace.index()
    assert _stored(workspace) == (4, 9)  # the old content's segments are gone, its rows owned by nothing
    moved = workspace.item(str(recordings / "moved.wav"))
    assert [m.item_id for m in workspace.search([Term.text("a sound")], k=20, moments=True).moments] == [moved.id] * 4
    (recordings / "moved.wav").unlink()
    workspace.index()
    assert _stored(workspace)[0] == 4  # offline: kept
    workspace.forget_missing()
    assert _stored(workspace)[0] == 0
    assert workspace.search([Term.text("a sound")], k=20, moments=True).moments == []


def test_a_file_that_cannot_be_cut_never_stops_the_others(recordings, make_workspace, monkeypatch):
    from engine.encoder import Encoder

    sound(recordings / "another.wav", 9.0, seed=3)  # 0-6, 3-9
    cut = Encoder.encode_segments

    def refuse_one(self, modality, path, *args, **kwargs):
        if str(path).endswith("long.wav"):
            raise CorruptFile(path, "cannot decode the sound (damaged halfway)")
        return cut(self, modality, path, *args, **kwargs)

    monkeypatch.setattr(Encoder, "encode_segments", refuse_one)
    workspace = make_workspace()
    report = workspace.index([recordings])
    assert report.embed.segments == 2 and report.embed.unsegmented == 1
    assert any("long.wav: no moments (CorruptFile" in w for w in report.embed.warnings)
    assert workspace.summary().segments == {"audio": 2}
    monkeypatch.setattr(Encoder, "encode_segments", cut)
    assert workspace.index().embed.segments == 0  # recorded as not cuttable: not tried again


def test_cancelled_moments_resume(recordings, make_workspace):
    sound(recordings / "another.wav", 9.0, seed=3)
    workspace = make_workspace()
    phases = []
    report = workspace.index(
        [recordings],
        progress=lambda phase, done, total: phases.append(phase),
        cancelled=lambda: "moments 2/3" in phases,  # after long.wav's first window
        batch_size=1,
    )
    assert report.embed.cancelled and report.embed.embedded == 3
    assert _stored(workspace) == (2, 2)  # the first file whole; nothing of the file cut halfway
    assert workspace.index().embed.segments == 5
    assert _stored(workspace) == (7, 7)


def test_moments_off_embeds_no_windows_until_turned_on(recordings, make_workspace):
    workspace = make_workspace()
    workspace.index([recordings], moments=False)
    assert workspace.summary().segments == {} and not workspace.summary().moments
    workspace.index()
    assert workspace.summary().segments == {}
    workspace.index(moments=True)
    assert workspace.summary().segments == {"audio": 5}


def test_a_schema_2_library_upgrades_in_place(recordings, make_workspace, tmp_path):
    workspace = make_workspace(recordings)
    before = [(i.id, i.path, i.status) for i in workspace.library.items()]
    workspace.close()
    with sqlite3.connect(tmp_path / "lib" / DATABASE) as db:  # the library as schema 2 left it
        for table in ("segments", "segment_stores", "segmented"):
            db.execute(f"DROP TABLE {table}")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    library = Library(tmp_path / "lib")
    assert library.get_meta("schema_version") == "4"
    assert [(i.id, i.path, i.status) for i in library.items()] == before
    key = library.key_of(library.model)
    assert library.segment_counts(key) == {} and len(library.unsegmented(key, [Modality.AUDIO], [])) == 2
    library.close()


def test_export_and_import_carry_the_moments(recordings, make_workspace, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = make_workspace(recordings)
    source.export(tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 2 + 5 and table.column("start").null_count == 2
    copy = make_workspace(library="copy")
    report = copy.import_embeddings(tmp_path / "out.parquet")
    assert report.segments == 5 and not report.invalid
    assert copy.summary().segments == {"audio": 5}
    query = [Term.text("a sound")]

    def paths(outcome):
        return [(outcome.items[m.item_id].path, m.start, m.end, round(m.score, 5)) for m in outcome.moments]

    assert paths(copy.search(query, k=10, moments=True)) == paths(source.search(query, k=10, moments=True))
    assert copy.import_embeddings(tmp_path / "out.parquet").segments == 0  # the same file twice adds nothing
    files = table.filter(table.column("start").is_null())
    changed = files.set_column(files.schema.get_field_index("hash"), "hash", pa.array(["0" * 32] * 2))
    pq.write_table(changed, tmp_path / "changed.parquet")
    copy.import_embeddings(tmp_path / "changed.parquet")  # the files' contents changed elsewhere: their windows go
    assert copy.summary().segments == {}
    windows = table.filter(table.column("start").is_valid())
    pq.write_table(windows, tmp_path / "orphans.parquet")
    orphans = make_workspace(library="orphans").import_embeddings(tmp_path / "orphans.parquet")
    assert orphans.segments == 0 and len(orphans.invalid) == 5 and "row 1: no file of this window" in orphans.invalid[0]


def test_the_command_line_indexes_counts_and_finds_moments(recordings, tmp_path, tiny_weights, capsys):
    import json

    from app.cli import main

    def run(*argv):
        code = main([str(a) for a in argv])
        return code, json.loads(capsys.readouterr().out)

    where = ("--library", tmp_path / "lib")
    code, summary = run(
        "index", recordings, *where, "--model", tiny_weights, "--device", "cpu", "--no-moments", "--json"
    )
    assert code == 0 and summary["segments"] == 0
    assert run("status", *where, "--json")[1]["moments"] is False
    code, summary = run("index", *where, "--moments", "--json")
    assert code == 0 and summary["segments"] == 5
    status = run("status", *where, "--json")[1]
    assert status["moments"] is True and status["segments"] == {"audio": 5}
    code, found = run("search", *where, "--text", "a bell", "--moments", "-k", "3", "--json")
    assert code == 0 and [m["path"] for m in found["moments"]] == [str(recordings / "long.wav")] * 3
    assert all(0 <= m["start"] < m["end"] <= 16 for m in found["moments"])
    assert [m["score"] for m in found["moments"]] == sorted((m["score"] for m in found["moments"]), reverse=True)
    code, files = run("search", *where, "--text", "a bell", "--json")
    hits = {h["path"]: h for h in files["results"]["audio"]}
    assert hits[str(recordings / "short.wav")]["start"] is None
    assert (hits[str(recordings / "long.wav")]["start"], hits[str(recordings / "long.wav")]["end"]) == (
        found["moments"][0]["start"],
        found["moments"][0]["end"],
    )


def test_the_command_line_takes_a_moment_as_a_query_term(recordings, tmp_path, tiny_weights, capsys):
    import json

    from app.cli import main

    def run(*argv):
        code = main([str(a) for a in argv])
        return code, json.loads(capsys.readouterr().out)

    where = ("--library", tmp_path / "lib")
    assert run("index", recordings, *where, "--model", tiny_weights, "--device", "cpu", "--json")[0] == 0
    long = recordings / "long.wav"
    item = run("search", *where, "--item", long, "--json")[1]["query"][0]["value"]
    for moment in (f"{item}@3-9", f"{long}@0:03.0–0:09.0", f"{item}@3.04-8.96"):
        code, found = run("search", *where, "--moment", moment, "--moments", "-k", "2", "--json")
        assert code == 0 and (found["moments"][0]["start"], found["moments"][0]["end"]) == (3.0, 9.0)
        assert found["moments"][0]["score"] == pytest.approx(1.0, abs=1e-3)
    code, composed = run("search", *where, "--moment", f"{item}@3-9", "--text", "a bell", "--weight", "-0.5", "--json")
    assert code == 0 and composed["query"][0] == {"kind": "moment", "value": item, "weight": 1.0, "modality": "audio"}
    code, alone = run("search", *where, "--moment", f"{item}@3-9", "--json")
    assert [h["score"] for h in composed["merged"]] != [h["score"] for h in alone["merged"]]
    code, filtered = run("search", *where, "--moment", f"{item}@3-9", "--glob", "*short.wav", "--json")
    assert code == 0 and [h["path"] for h in filtered["merged"]] == [str(recordings / "short.wav")]
    code, refused = run("search", *where, "--moment", f"{item}@1-7", "--moments", "--json")
    assert code == 2 and refused["error"] == "NoSuchMoment"
    assert f"long.wav (item {item}) has no moment 1–7 s" in refused["message"]
    assert "its 5 windows (s) include 0–6, 3–9, 6–12, 9–15, 10–16" in refused["message"]
    short = run("search", *where, "--item", recordings / "short.wav", "--json")[1]["query"][0]["value"]
    code, refused = run("search", *where, "--moment", f"{short}@0-3", "--json")
    assert code == 2 and "it has no windows" in refused["message"]
    code, refused = run("search", *where, "--moment", f"{item}@9-3", "--json")
    assert code == 2 and refused["error"] == "UsageError" and "ends before it starts" in refused["message"]


@pytest.mark.parametrize("approximate_from", [10**9, 300])
def test_a_query_items_own_windows_are_left_out_of_the_ranking(tmp_path, approximate_from):
    """Exact and approximate (re-ranked) alike: the best moments of the other recordings, as exact search ranks them."""
    from engine.search_index import Effort, SearchIndex
    from tests.libraries import clustered, library_of

    files, windows = 6, 100
    vectors = clustered(files + files * windows, dim=32, clusters=8)
    library = library_of(tmp_path, vectors[:files], ["audio"] * files)
    key = library.key_of(library.model)
    for n, item in enumerate(library.items()):
        own = vectors[files + n * windows : files + (n + 1) * windows]
        own = own + 2 * vectors[n]  # a recording's windows resemble it, as overlapping windows of one scene do
        own /= np.linalg.norm(own, axis=1, keepdims=True)
        spans = [(w * 3.0, w * 3.0 + 6.0) for w in range(windows)]
        library.record_segments(key, item, spans, own, [1.0] * windows)
    index = SearchIndex(library, key, approximate_from, Effort(rerank=50), segments=True)  # FAISS proposes 50
    index.maintain(final=True)
    assert index.describe()["audio"]["approximate"] == (600 if approximate_from == 300 else 0)
    stored = np.array(library.segment_store(key).view(Modality.AUDIO, files * windows))
    for query_item in (1, 4):
        query = library.embedding(query_item, key)[0]
        hits = index.search(query, k=15, exclude={query_item})[Modality.AUDIO]
        scores = stored @ query
        others = np.array([r for r in range(files * windows) if r // windows != query_item - 1])
        best = others[np.argsort(-scores[others], kind="stable")][:15]
        assert [h.row for h in hits] == best.tolist()
        assert all(h.item_id != query_item for h in hits)
    library.close()


def test_a_new_model_gets_its_own_moments_when_the_library_switches(recordings, make_workspace, tmp_path):
    from tests.test_workspace import other_model

    workspace = make_workspace(recordings)
    report, switched = workspace.reembed(str(other_model(tmp_path / "new.safetensors")))
    assert switched and report.segments == 5
    assert workspace.library.model.dim == 24 and workspace.summary().segments == {"audio": 5}
    found = workspace.search([Term.text("a sound")], k=3, moments=True)
    assert found.results.vector.shape == (24,) and len(found.moments) == 3


def test_with_the_model_away_indexing_leaves_the_moments_for_later(recordings, tmp_path, tiny_weights, monkeypatch):
    import shutil

    from engine.workspace import Workspace

    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path / "cache"))  # no other model on this machine
    weights = tmp_path / "models" / "mine.safetensors"
    weights.parent.mkdir()
    shutil.copy(tiny_weights, weights)
    first = Workspace.open(tmp_path / "lib", create=True, model=str(weights), device="cpu")
    first.index([recordings], moments=False)
    first.close()
    weights.rename(weights.with_suffix(".away"))
    away = Workspace.open(tmp_path / "lib", device="cpu")
    report = away.index(moments=True)  # a rescan works; the windows wait for the model
    assert report.embed.segments == 0 and away.summary().segments == {} and away.summary().moments
    away.close()
    weights.with_suffix(".away").rename(weights)
    back = Workspace.open(tmp_path / "lib", device="cpu")
    assert back.index().embed.segments == 5
    back.close()


def test_a_files_best_windows_are_scored_exactly_wherever_its_rows_lie(tmp_path):
    from engine.query import Searcher, TermCache
    from engine.search_index import Hit, SearchIndex
    from tests.libraries import clustered, library_of

    vectors = clustered(2 + 12, dim=16, clusters=4)
    library = library_of(tmp_path, vectors[:2], ["audio"] * 2)
    key = library.key_of(library.model)
    first, second = library.items()
    library.record_segments(key, first, [(0.0, 6.0), (3.0, 9.0)], vectors[2:4], [1.0, 1.0])
    library.record_segments(key, second, [(0.0, 6.0)], vectors[4:5], [1.0])
    library.record_segments(key, first, [(6.0, 12.0), (9.0, 15.0)], vectors[5:7], [1.0, 1.0])  # rows 0, 1, 3, 4
    searcher = Searcher(library, library.model, SearchIndex(library, key), lambda what: None, TermCache())
    query = vectors[7]
    best = searcher.best_moments(query, [Hit(first.id, 0.5, Modality.AUDIO), Hit(second.id, 0.4, Modality.AUDIO)], 3)
    windows = {(0.0, 6.0): vectors[2], (3.0, 9.0): vectors[3], (6.0, 12.0): vectors[5], (9.0, 15.0): vectors[6]}
    expected = sorted(windows, key=lambda span: -float(windows[span] @ query))[:3]
    assert [(m.start, m.end) for m in best[first.id]] == expected
    assert [(m.start, m.end) for m in best[second.id]] == [(0.0, 6.0)]
    library.close()


def test_a_moment_as_the_query_finds_its_own_window_first(recordings, make_workspace):
    workspace = make_workspace(recordings)
    long = workspace.item(str(recordings / "long.wav"))
    for start, end in [(3.0, 9.0), (10.0, 16.0)]:
        found = workspace.search([Term.moment(long.id, start, end)], k=5, moments=True).moments
        assert (found[0].item_id, found[0].start, found[0].end) == (long.id, start, end)
        assert found[0].score == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(QueryError, match="no moment 1–7 s"):
        workspace.search([Term.moment(long.id, 1.0, 7.0)], moments=True)


def test_moment_scores_are_every_window_of_a_file_in_time_order(recordings, make_workspace):
    workspace = make_workspace(recordings)
    long = workspace.item(str(recordings / "long.wav"))
    short = workspace.item(str(recordings / "short.wav"))
    outcome = workspace.search([Term.item(short.id)], k=10)
    library = workspace.library
    key = library.key_of(library.model)
    vectors = library.segment_store(key).view(Modality.AUDIO, 5)
    expected = [
        (start, end, float(vectors[row] @ outcome.results.vector))
        for start, end, row in library.segments_of(key, long.id)
    ]
    scores = workspace.moment_scores(long.id, outcome.results.vector)
    assert [(m.start, m.end) for m in scores] == [(0, 6), (3, 9), (6, 12), (9, 15), (10, 16)]
    assert [m.score for m in scores] == pytest.approx([e[2] for e in expected], abs=1e-6)
    assert sorted(scores, key=lambda m: -m.score)[:3] == outcome.best_moments(long.id)
    assert workspace.moment_scores(short.id, outcome.results.vector) == []


def test_a_changed_hop_cuts_the_files_again_resumably(recordings, tmp_path, tiny_weights, capsys, monkeypatch):
    import json

    from app.cli import main
    from engine.workspace import Workspace, WorkspaceError

    def run(*argv):
        code = main([str(a) for a in argv])
        return code, json.loads(capsys.readouterr().out)

    def starts(path) -> list[float]:
        library = Library(tmp_path / "lib")
        try:
            item = library.item_by_path(str(path))
            return [start for start, _, _ in library.segments_of(library.key_of(library.model), item.id)]
        finally:
            library.close()

    sound(recordings / "later.wav", 16.0, pitch=330.0, seed=3)
    where = ("--library", tmp_path / "lib")
    code, _ = run(
        "index", recordings, *where, "--model", tiny_weights, "--device", "cpu", "--moments-hop", "1", "--json"
    )
    status = run("status", *where, "--json")[1]
    assert code == 0 and status["moments_hop"] == 1.0 and status["segments"] == {"audio": 6}  # 0-6, 6-12, 10-16
    assert status["moments_recut"] == 0
    library = Library(tmp_path / "lib")
    library.set_moments_hop(0.25)  # the hop changed, no run yet: both long files wait
    library.close()
    assert run("status", *where, "--json")[1]["moments_recut"] == 2
    assert main(["status", *map(str, where)]) == 0
    assert "2 files wait to be cut again with hop 0.25" in capsys.readouterr().out

    appended = Library._append_segments
    calls = []

    def killed_on_the_second_file(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the run dies inside the second file's transaction
            raise KeyboardInterrupt
        return appended(self, *args, **kwargs)

    monkeypatch.setattr(Library, "_append_segments", killed_on_the_second_file)
    assert main(["index", *map(str, where)]) == 1
    capsys.readouterr()
    monkeypatch.setattr(Library, "_append_segments", appended)
    recut = [0.0, 1.5, 3.0, 4.5, 6.0, 7.5, 9.0, 10.0]
    assert starts(recordings / "later.wav") == recut  # the first file (by id) is cut again, its old windows gone
    assert starts(recordings / "long.wav") == [0.0, 6.0, 10.0]  # the second keeps its old ones, still searchable
    status = run("status", *where, "--json")[1]
    assert status["moments_recut"] == 1 and status["segments"] == {"audio": 8 + 3}
    code, summary = run("index", *where, "--json")
    assert code == 0 and summary["segments"] == 8
    status = run("status", *where, "--json")[1]
    assert status["moments_recut"] == 0 and status["segments"] == {"audio": 16}
    assert starts(recordings / "long.wav") == recut
    code, found = run("search", *where, "--text", "a bell", "--moments", "-k", "16", "--json")
    assert code == 0 and len(found["moments"]) == 16  # the old windows' vector rows are owned by nothing
    assert main(["index", *map(str, where), "--json"]) == 0 and json.loads(capsys.readouterr().out)["segments"] == 0
    workspace = Workspace.open(tmp_path / "lib")
    try:
        with pytest.raises(WorkspaceError, match="fraction of the window in \\(0, 1\\], got 1.5"):
            workspace.index(moments_hop=1.5)
    finally:
        workspace.close()
    assert main(["index", *map(str, where), "--moments-hop", "0"]) == 2
    assert "a fraction of a window in (0, 1]" in capsys.readouterr().err


def test_a_schema_3_library_learns_the_hop_its_windows_were_cut_with(recordings, tmp_path, tiny_weights):
    from engine.workspace import Workspace

    workspace = Workspace.open(tmp_path / "lib", create=True, model=str(tiny_weights), device="cpu")
    workspace.index([recordings], moments_hop=1.0)
    workspace.close()
    with sqlite3.connect(tmp_path / "lib" / DATABASE) as db:  # as schema 3 left it, its hop changed since the cut
        db.execute("ALTER TABLE segmented DROP COLUMN hop")
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        db.execute("UPDATE meta SET value = '0.5' WHERE key = 'moments_hop'")
    workspace = Workspace.open(tmp_path / "lib")
    try:
        assert workspace.library.get_meta("schema_version") == "4"
        assert workspace.summary().moments_recut == 1  # 0-6, 6-12, 10-16: cut with a hop of 1, not 0.5
        assert workspace.index().embed.segments == 5
        assert workspace.summary().moments_recut == 0
    finally:
        workspace.close()


RECUTTER = """
import sys, time
from engine.workspace import Workspace
workspace = Workspace.open(sys.argv[1], model=sys.argv[2], device="cpu")
slow = lambda phase, done, total: time.sleep(0.05)
print("segments", workspace.index(progress=slow, moments_hop=0.25).embed.segments, flush=True)
"""


def test_kill_9_mid_recut_leaves_each_file_whole_then_resumes(tmp_path, tiny_weights):
    import os
    import signal
    import time

    from engine.workspace import Workspace
    from tests.test_crash_safety import _count, _run

    folder = tmp_path / "data"
    folder.mkdir()
    for n in range(4):
        sound(folder / f"long{n}.wav", 16.0, pitch=200.0 + 60 * n, seed=n)
    workspace = Workspace.open(tmp_path / "lib", create=True, model=str(tiny_weights), device="cpu")
    workspace.index([folder], moments_hop=1.0)
    workspace.close()
    process = _run(RECUTTER, tmp_path / "lib", tiny_weights)
    deadline = time.monotonic() + 120
    recut = "SELECT COUNT(*) FROM segmented WHERE hop = 0.25"
    while _count(tmp_path / "lib", recut) < 1 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, process.stderr.read().decode()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    workspace = Workspace.open(tmp_path / "lib", model=str(tiny_weights), device="cpu")
    try:
        library = workspace.library
        key = library.key_of(library.model)
        cuts = {item.path: [start for start, _, _ in library.segments_of(key, item.id)] for item in library.items()}
        old, new = [0.0, 6.0, 10.0], [0.0, 1.5, 3.0, 4.5, 6.0, 7.5, 9.0, 10.0]
        assert all(starts in (old, new) for starts in cuts.values())  # each file wholly cut with one hop
        waiting = sum(starts == old for starts in cuts.values())
        assert 1 <= waiting < 4 and workspace.summary().moments_recut == waiting
        assert workspace.index().embed.segments == 8 * waiting
        assert workspace.summary().moments_recut == 0
        assert all([start for start, _, _ in library.segments_of(key, item.id)] == new for item in library.items())
    finally:
        workspace.close()
