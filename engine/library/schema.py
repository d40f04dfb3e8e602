"""The library database's schema: its version, its tables, and how a script is run inside a transaction."""

from __future__ import annotations

DATABASE = "library.sqlite"
SCHEMA_VERSION = 2
MAX_VARIABLES = 900  # SQLite caps the variables of one statement

SCHEMA = """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    root_id INTEGER REFERENCES roots(id) ON DELETE CASCADE,
    path TEXT UNIQUE,
    text TEXT,
    modality TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    mtime REAL NOT NULL DEFAULT 0,
    hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'embedded', 'failed')),
    error_kind TEXT,
    error TEXT,
    updated REAL NOT NULL,
    missing INTEGER NOT NULL DEFAULT 0,
    CHECK ((path IS NULL) != (text IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS items_text ON items(text) WHERE text IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_hash ON items(hash, modality);
CREATE INDEX IF NOT EXISTS items_status ON items(status, modality);
CREATE INDEX IF NOT EXISTS items_root ON items(root_id);
CREATE TABLE IF NOT EXISTS models (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    dim INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS model_failures (
    model TEXT NOT NULL REFERENCES models(key),
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    error_kind TEXT NOT NULL,
    error TEXT NOT NULL,
    PRIMARY KEY (model, item_id)
);
CREATE TABLE IF NOT EXISTS embeddings (
    hash TEXT NOT NULL,
    model TEXT NOT NULL REFERENCES models(key),
    modality TEXT NOT NULL,
    row INTEGER NOT NULL,
    scale REAL NOT NULL,
    PRIMARY KEY (hash, model, modality)
);
CREATE UNIQUE INDEX IF NOT EXISTS embeddings_rows ON embeddings(model, modality, row);
CREATE TABLE IF NOT EXISTS stores (
    model TEXT NOT NULL REFERENCES models(key),
    modality TEXT NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (model, modality)
);
CREATE TABLE IF NOT EXISTS label_vectors (
    model TEXT NOT NULL REFERENCES models(key),
    label TEXT NOT NULL,
    templates TEXT NOT NULL,
    vector BLOB NOT NULL,
    scale REAL NOT NULL,
    PRIMARY KEY (model, label, templates)
)
"""


# Browsing pages through a set in path or date order with LIMIT/OFFSET: these covering indexes let SQLite walk
# the index alone, so a page at offset 900,000 of a million is read without sorting or touching the rows.
# They are made on open when missing (a library of schema 2 made before them gets them then).
BROWSE_INDEXES = {
    "items_modality_path": "items(modality, path)",
    "items_modality_date": "items(modality, mtime)",
    "items_root_path": "items(root_id, modality, path)",
    "items_root_date": "items(root_id, modality, mtime)",
    "items_folder_path": "items(root_id, path)",
    "items_folder_date": "items(root_id, mtime)",
}
SCHEMA += "".join(f";\nCREATE INDEX IF NOT EXISTS {name} ON {columns}" for name, columns in BROWSE_INDEXES.items())


def statements(script: str) -> list[str]:
    """A script's statements, to run one by one: ``executescript`` would commit mid-transaction."""
    return [s.strip() for s in script.split(";") if s.strip()]
