"""A schema-1 library (vectors as SQLite rows) upgrades in place on open, without encoding anything again."""

from __future__ import annotations

import sqlite3
import time

import numpy as np

from engine.library import Library
from engine.modality import Modality
from engine.query import Term
from engine.workspace import Workspace
from tests.libraries import clustered, stored_vectors

SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE roots (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, added REAL NOT NULL);
CREATE TABLE items (
    id INTEGER PRIMARY KEY, root_id INTEGER REFERENCES roots(id) ON DELETE CASCADE, path TEXT UNIQUE, text TEXT,
    modality TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0, mtime REAL NOT NULL DEFAULT 0, hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'embedded', 'failed')),
    error_kind TEXT, error TEXT, updated REAL NOT NULL, CHECK ((path IS NULL) != (text IS NULL)));
CREATE UNIQUE INDEX items_text ON items(text) WHERE text IS NOT NULL;
CREATE INDEX items_hash ON items(hash);
CREATE INDEX items_status ON items(status, modality);
CREATE TABLE embeddings (hash TEXT NOT NULL, model TEXT NOT NULL, modality TEXT NOT NULL, vector BLOB NOT NULL,
    scale REAL NOT NULL, PRIMARY KEY (hash, model, modality));
"""


def schema_1_library(folder, model: str, vectors: np.ndarray, modalities: list[str]) -> None:
    folder.mkdir(parents=True)
    with sqlite3.connect(folder / "library.sqlite") as db:
        db.executescript(SCHEMA_1)
        db.execute("PRAGMA journal_mode=WAL")
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("schema_version", "1"), ("model", model)])
        db.execute("INSERT INTO roots VALUES (1, '/archive', 0)")
        for n, (vector, modality) in enumerate(zip(vectors, modalities, strict=True)):
            db.execute(
                "INSERT INTO items(root_id, path, modality, size, mtime, hash, status, updated) VALUES (1, ?, ?, 10, 0, ?, 'embedded', ?)",
                (f"/archive/{n}.{modality}", modality, f"hash{n}", time.time()),
            )
            db.execute(
                "INSERT INTO embeddings VALUES (?, ?, ?, ?, ?)", (f"hash{n}", model, modality, vector.tobytes(), 2.5)
            )
        db.execute(
            "INSERT INTO items(root_id, path, modality, size, mtime, hash, status, error_kind, error, updated) "
            "VALUES (1, '/archive/bad.wav', 'audio', 1, 0, 'bad', 'failed', 'CorruptFile', 'damaged', 0)"
        )


def test_schema_1_migrates_in_place_keeping_every_vector(tmp_path):
    vectors = clustered(300, 16)
    modalities = ["vision", "audio", "text"] * 100
    schema_1_library(tmp_path / "lib", "some-model", vectors, modalities)
    library = Library(tmp_path / "lib")
    assert library.get_meta("schema_version") == "4"  # schema 1 -> 2 -> 3 -> 4 in one opening
    ref = library.model
    assert ref.name == "some-model" and not ref.verified and ref.dim == 16
    ids, stored_modalities, stored = stored_vectors(library)
    for item_id, vector in zip(ids.tolist(), stored, strict=True):
        np.testing.assert_array_equal(vector, vectors[item_id - 1])  # bit for bit, in their items' order
    assert library.count("embedded") == 300 and library.count("failed") == 1
    assert library.embedding(7, ref.key)[1] == 2.5
    with sqlite3.connect(tmp_path / "lib" / "library.sqlite") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "embeddings_v1" not in tables and db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    workspace = Workspace(library)
    outcome = workspace.search([Term.item(1)], k=3, modalities=[Modality.VISION])
    assert next(h.item_id for h in outcome.results.by_modality[Modality.VISION]) != 1
    library.close()
    assert Library(tmp_path / "lib").count("embedded") == 300  # opened again: nothing to migrate


def test_a_migrated_library_adopts_its_model_when_found_and_encodes_nothing(tmp_path, world, tiny_weights, tiny_model):
    from engine.encoder import Encoder
    from engine.indexer import scan

    fresh = Library(tmp_path / "scratch")
    scan(fresh, world / "text")
    items = fresh.items()
    encoded = Encoder(tiny_model).encode_texts([open(i.path).read().strip() for i in items])  # noqa: SIM115
    vectors = np.stack([r.embedding for r in encoded])
    schema_1_library(tmp_path / "lib", str(tiny_weights), vectors, ["text"] * len(items))
    workspace = Workspace.open(tmp_path / "lib", device="cpu")
    assert not workspace.library.model.verified
    assert workspace.embed().embedded == 0
    outcome = workspace.search([Term.text("a dog")], k=2)  # loads the model: its name and dimension match
    assert outcome.results.merged and workspace.library.model.verified
