"""The project file's schema: numbered migration steps, each applied in its own transaction.

``PRAGMA user_version`` holds the number of steps applied. A file with a higher number was
written by a newer aldesk and is refused before anything is written to it.
"""

from __future__ import annotations

import sqlite3

# 'aldk' in ASCII: marks a SQLite file as an aldesk project (PRAGMA application_id).
APPLICATION_ID = 0x616C646B

_STEP_1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE classes (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    hotkey   TEXT UNIQUE,
    position INTEGER NOT NULL,
    colour   TEXT NOT NULL
);

-- path: relative to the project file's folder (POSIX separators) where possible, else absolute.
-- label_class_id/status/labeled_at mirror the item's latest effective label event, kept in the
-- same transaction as the event so counts stay fast on large projects.
CREATE TABLE items (
    id             INTEGER PRIMARY KEY,
    path           TEXT NOT NULL UNIQUE,
    sha256         TEXT NOT NULL UNIQUE,
    bytes          INTEGER NOT NULL,
    width          INTEGER NOT NULL,
    height         INTEGER NOT NULL,
    added_at       REAL NOT NULL,
    status         TEXT NOT NULL DEFAULT 'unlabeled'
                   CHECK (status IN ('unlabeled', 'labeled', 'skipped', 'unsure')),
    label_class_id INTEGER REFERENCES classes(id),
    labeled_at     REAL
);
CREATE INDEX items_status ON items(status);
CREATE INDEX items_label ON items(label_class_id);

-- Append-only label history. kind 'undo' reverts the event named in undoes.
-- shown_ms: how long the item was on screen; model_version/strategy/score/rank: why it was asked.
CREATE TABLE label_events (
    id            INTEGER PRIMARY KEY,
    item_id       INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('label', 'skip', 'unsure', 'undo')),
    class_id      INTEGER REFERENCES classes(id),
    undoes        INTEGER REFERENCES label_events(id),
    created_at    REAL NOT NULL,
    shown_ms      INTEGER,
    source        TEXT NOT NULL CHECK (source IN ('human', 'import')),
    model_version INTEGER,
    strategy      TEXT,
    score         REAL,
    rank          INTEGER,
    CHECK ((kind = 'label') = (class_id IS NOT NULL)),
    CHECK ((kind = 'undo') = (undoes IS NOT NULL))
);
"""

# Step 2: hidden ground truth (the demo's held-back labels, simulations) and a faster per-item
# history lookup, which undo and the item history need.
_STEP_2 = """
CREATE TABLE item_truth (
    item_id    INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    class_name TEXT NOT NULL
);
CREATE INDEX label_events_item ON label_events(item_id, id);
"""

# Step 3: the learning engine. Embeddings are stored in chunks (a few hundred items per row) so a
# whole pool loads with few reads and an interrupted embedding run keeps every finished chunk.
# A model version keeps its head's parameters (warm start, export) and its predictions for every
# embedded item as one float16 array (fast to load and to swap). The queue is kept so that a
# reopened project continues where it was and every label can say why its item was asked.
_STEP_3 = """
CREATE TABLE embedding_sets (
    id         INTEGER PRIMARY KEY,
    backbone   TEXT NOT NULL,
    identity   TEXT NOT NULL UNIQUE,
    dim        INTEGER NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE embedding_chunks (
    id       INTEGER PRIMARY KEY,
    set_id   INTEGER NOT NULL REFERENCES embedding_sets(id) ON DELETE CASCADE,
    count    INTEGER NOT NULL,
    item_ids BLOB NOT NULL,
    vectors  BLOB NOT NULL
);
CREATE INDEX embedding_chunks_set ON embedding_chunks(set_id);

CREATE TABLE models (
    version    INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    set_id     INTEGER NOT NULL REFERENCES embedding_sets(id) ON DELETE CASCADE,
    head       TEXT NOT NULL,
    n_labels   INTEGER NOT NULL,
    class_ids  TEXT NOT NULL,
    params     BLOB NOT NULL,
    metrics    TEXT NOT NULL
);

CREATE TABLE predictions (
    model_version INTEGER PRIMARY KEY REFERENCES models(version) ON DELETE CASCADE,
    item_ids      BLOB NOT NULL,
    probs         BLOB NOT NULL
);

-- The current queue of items to ask, with why each is there (copied into the label event).
CREATE TABLE queue (
    item_id       INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    rank          INTEGER NOT NULL,
    model_version INTEGER,
    strategy      TEXT NOT NULL,
    score         REAL,
    created_at    REAL NOT NULL
);
"""

# Step 4: review. The latest rankings of suspect labels (labeled items that out-of-fold heads put
# in another class), each tied to the model version current when it was computed. A ranking
# records the label each item had then, so one that a person has since corrected drops out.
_STEP_4 = """
CREATE TABLE suspect_runs (
    id            INTEGER PRIMARY KEY,
    created_at    REAL NOT NULL,
    model_version INTEGER REFERENCES models(version) ON DELETE SET NULL,
    n_labels      INTEGER NOT NULL,
    method        TEXT NOT NULL
);

CREATE TABLE suspects (
    run_id             INTEGER NOT NULL REFERENCES suspect_runs(id) ON DELETE CASCADE,
    rank               INTEGER NOT NULL,
    item_id            INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    given_class_id     INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    suggested_class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    score              REAL NOT NULL,
    p_given            REAL NOT NULL,
    PRIMARY KEY (run_id, rank)
);
"""

# Step 5: scale. Per-class label counts (shown after every key press) read the index alone
# instead of one table row per labeled item: at a million items with 118,000 labels the count
# took 0.40 s (benchmarks/bench_scale.py). It replaces the status-only index, its prefix.
_STEP_5 = """
CREATE INDEX items_status_label ON items(status, label_class_id);
DROP INDEX items_status;
"""

# Step 6: a model's predictions in chunk rows (aldesk/core/model_store.py), written in short
# transactions from a background thread before the model's row: one 28 MB row per model at a
# million items kept the window frozen ~1 s while it was written. No foreign key: a model's
# chunks exist before its row; chunks whose row never came (a killed write) are removed later.
_STEP_6 = """
CREATE TABLE prediction_chunks (
    model_version INTEGER NOT NULL,
    first_row     INTEGER NOT NULL,
    item_ids      BLOB NOT NULL,
    probs         BLOB NOT NULL,
    PRIMARY KEY (model_version, first_row)
);
INSERT INTO prediction_chunks(model_version, first_row, item_ids, probs)
    SELECT model_version, 0, item_ids, probs FROM predictions;
DROP TABLE predictions;
"""

# Step 7: text items (aldesk/core/kinds/text.py). A text lives in the project file itself, whole,
# so the project needs neither the CSV it came from nor that file's encoding again. The item's
# path is where it came from (a .txt file, or "table.csv#12": that table's line 12).
_STEP_7 = """
CREATE TABLE item_texts (
    item_id INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    text    TEXT NOT NULL
);
"""

# Step 8: the text encoder fine-tuned on the person's labels (aldesk/core/tuned_encoders.py). Its
# weights are stored in parts written in short transactions off the GUI thread (45 MB in
# float16: one row would hold a label's commit for the whole write), then the encoder's row,
# which names the parts and their digest: readers never see an encoder without its weights.
_STEP_8 = """
CREATE TABLE tuned_weight_parts (
    identity TEXT NOT NULL,
    part     INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (identity, part)
);
CREATE TABLE tuned_encoders (
    identity   TEXT PRIMARY KEY,
    base       TEXT NOT NULL,
    n_labels   INTEGER NOT NULL,
    parts      INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

MIGRATIONS: tuple[str, ...] = (_STEP_1, _STEP_2, _STEP_3, _STEP_4, _STEP_5, _STEP_6, _STEP_7, _STEP_8)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing steps up to ``target``, one transaction each; return the new version.

    The connection must be in autocommit mode (isolation_level=None) so that each step's
    BEGIN/COMMIT is ours and a failed step leaves the file at the previous version.
    """
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    for number in range(version + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split_statements(MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the original error is the one to report
            raise
        version = number
    return version


def _split_statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit our transaction)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement in migration: {current!r}")
    return statements
