"""The library database's schema: its version, its tables, and how a script is run inside a transaction."""

from __future__ import annotations

DATABASE = "library.sqlite"
SCHEMA_VERSION = 4
MAX_VARIABLES = 900  # SQLite caps the variables of one statement
MAX_DIM = 16_384  # wider than any embedding model's output; a wider file is a bomb, not a model

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
CREATE INDEX IF NOT EXISTS items_mtime ON items(mtime);
CREATE INDEX IF NOT EXISTS items_modality_path ON items(modality, path);
CREATE INDEX IF NOT EXISTS items_modality_date ON items(modality, mtime);
CREATE INDEX IF NOT EXISTS items_root_path ON items(root_id, modality, path);
CREATE INDEX IF NOT EXISTS items_root_date ON items(root_id, modality, mtime);
CREATE INDEX IF NOT EXISTS items_folder_path ON items(root_id, path);
CREATE INDEX IF NOT EXISTS items_folder_date ON items(root_id, mtime);
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
);
"""
# Schema 3: moments. A segment is a window [start_s, end_s) of a long recording, keyed like an embedding by
# its file's content (hash, modality) and the model, so a moved or duplicated file keeps its segments; its
# vector is a row of the model's segment files (``Database.segment_store``). ``segmented`` records that a
# content's windows were all embedded (``windows`` of them; ``error`` when the file could not be cut); schema 4
# adds the ``hop`` (a fraction of the window) they were cut with, so a library whose hop changed re-cuts them.
# A content's segments are forgotten when the last item holding it is removed or changes content
# (``Items._drop_unheld_segments``, in the writers' transactions: a library holds no triggers).
SEGMENTS = """CREATE TABLE IF NOT EXISTS segments (
    hash TEXT NOT NULL,
    model TEXT NOT NULL REFERENCES models(key),
    modality TEXT NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    row INTEGER NOT NULL,
    scale REAL NOT NULL,
    PRIMARY KEY (hash, model, modality, start_s, end_s)
);
CREATE UNIQUE INDEX IF NOT EXISTS segments_rows ON segments(model, modality, row);
CREATE TABLE IF NOT EXISTS segment_stores (
    model TEXT NOT NULL REFERENCES models(key),
    modality TEXT NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (model, modality)
);
CREATE TABLE IF NOT EXISTS segmented (
    hash TEXT NOT NULL,
    model TEXT NOT NULL REFERENCES models(key),
    modality TEXT NOT NULL,
    windows INTEGER NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    hop REAL,
    PRIMARY KEY (hash, model, modality)
)
"""


def statements(script: str) -> list[str]:
    """A script's statements, to run one by one: ``executescript`` would commit mid-transaction."""
    return [s.strip() for s in script.split(";") if s.strip()]


# Indexes added after libraries of this schema were made: a writer creates one a library lacks when it opens it
# (``Database._add_missing_indexes``), and a library without one is sound, only slower to sort and filter.
# The browse indexes cover a listing (a modality, a folder, a folder's modality) in path or date order: a page at
# offset 900,000 of a million walks one index without sorting or reading rows.
BROWSE_INDEXES = frozenset(
    {
        "items_modality_path",
        "items_modality_date",
        "items_root_path",
        "items_root_date",
        "items_folder_path",
        "items_folder_date",
    }
)
ADDED_LATER = frozenset({"items_mtime"}) | BROWSE_INDEXES


def indexes(script: str = SCHEMA) -> dict[str, str]:
    """The schema's indexes by name: one added since a library was made is created when it is next opened."""
    found = {}
    for statement in statements(script):
        words = statement.split()
        if words[:2] == ["CREATE", "INDEX"] or words[:3] == ["CREATE", "UNIQUE", "INDEX"]:
            found[words[words.index("EXISTS") + 1]] = statement
    return found


def all_statements() -> list[str]:
    """The current schema's statements, the tables of every version."""
    return statements(SCHEMA) + statements(SEGMENTS)
