"""The look-ups a search makes per result start from what they are given (vector rows, item ids) through an index.

SQLite's planner has no table statistics here, and for an ``IN`` list of more than a few rows it preferred walking
every item of the modality (the (modality, date) index Browse added) and looking each one up: 1.3 s a modality at a
million items where the row-first plan takes a millisecond, so a filtered search took 12 s. The plans are checked,
not timed: ``EXPLAIN QUERY PLAN`` of each statement the call ran.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine.modality import Modality
from tests.libraries import clustered, library_of

MODALITY_WIDE = re.compile(r"^SCAN |USING (COVERING )?INDEX \w+ \(modality=\?\)$")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    vectors = clustered(800, 16, seed=3)
    return library_of(tmp_path_factory.mktemp("plans"), vectors, ["vision", "audio"] * 400)


def plans_of(library, call) -> list[list[str]]:
    seen: list[str] = []
    library._db.set_trace_callback(seen.append)
    try:
        call()
    finally:
        library._db.set_trace_callback(None)
    selects = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]
    assert selects, "the call ran no SELECT"
    return [[step[3] for step in library._db.execute("EXPLAIN QUERY PLAN " + sql)] for sql in selects]


def lookups(library):
    key = library.model.key
    rows, ids = list(range(400)), list(range(1, 801))
    return {
        "items_at_rows": lambda: library.items_at_rows(key, Modality.VISION, rows),
        "embedding": lambda: library.embedding(7, key),
        "items_at_segment_rows": lambda: library.items_at_segment_rows(key, Modality.AUDIO, rows),
        "segment_rows_of": lambda: library.segment_rows_of(key, Modality.AUDIO, ids),
        "segments_of": lambda: library.segments_of(key, 8),
        "segment_at": lambda: library.segment_at(key, 8, 0.0, 6.0),
        "items": lambda: library.items(Modality.VISION, ids=ids),
    }


@pytest.mark.parametrize(
    "name",
    ["items_at_rows", "embedding", "items_at_segment_rows", "segment_rows_of", "segments_of", "segment_at", "items"],
)
def test_a_per_result_lookup_never_walks_a_whole_modality(library, name):
    for plan in plans_of(library, lookups(library)[name]):
        wide = [step for step in plan if MODALITY_WIDE.search(step)]
        assert not wide, f"{name}: {plan}"


def test_the_rows_lookup_still_answers(library):
    key = library.model.key
    found = library.items_at_rows(key, Modality.VISION, list(range(60)))
    assert len(found) == 60 and all(len(ids) == 1 for ids in found.values())
    assert np.all(np.diff(sorted(i for ids in found.values() for i in ids)) > 0)
