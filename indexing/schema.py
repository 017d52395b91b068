"""The SQLite schema of the index (documents, groups, chunks, lexical index, ingest log, meta)."""
from __future__ import annotations

import sqlite3

from indexing.lexical import FTS_TABLE_SQL

SCHEMA_VERSION = 2

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS documents (
        doc_id TEXT PRIMARY KEY,
        source TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        format TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        version INTEGER NOT NULL,
        declared INTEGER NOT NULL,
        label INTEGER NOT NULL,
        ingested_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS document_groups (
        doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
        group_name TEXT NOT NULL,
        PRIMARY KEY (doc_id, group_name))""",
    """CREATE INDEX IF NOT EXISTS document_groups_by_group ON document_groups(group_name, doc_id)""",
    # AUTOINCREMENT: a rowid (= FAISS id) is never reused, so a stale vector can never point at a new chunk.
    """CREATE TABLE IF NOT EXISTS chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chunk_id TEXT NOT NULL UNIQUE,
        doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        heading TEXT,
        page INTEGER,
        token_count INTEGER NOT NULL,
        label INTEGER NOT NULL,
        embedding BLOB NOT NULL,
        findings TEXT,
        label_stamp TEXT NOT NULL DEFAULT '')""",
    """CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id, position)""",
    FTS_TABLE_SQL,
    """CREATE TABLE IF NOT EXISTS ingest_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        doc_id TEXT,
        source TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('added', 'updated', 'unchanged', 'deleted', 'refused')),
        reason TEXT)""",
]


def connect(path: str, busy_timeout_s: float) -> sqlite3.Connection:
    """Open the database in WAL mode (readers never block the writer), autocommit, foreign keys on."""
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


# Columns added after version 1, migrated in place (ALTER TABLE ADD COLUMN keeps every row).
# chunks.findings: JSON findings summary of the passage (no text); NULL = unknown.
# chunks.label_stamp: detector version + config that made the label; '' = unknown (stale).
MIGRATIONS = {"chunks": (("findings", "TEXT"), ("label_stamp", "TEXT NOT NULL DEFAULT ''"))}


def create(conn: sqlite3.Connection) -> None:
    """Create missing tables, add missing columns, and the meta rows (idempotent, one transaction)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA:
            conn.execute(statement)
        _add_missing_columns(conn)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version' AND CAST(value AS INTEGER) < ?",
                     (str(SCHEMA_VERSION), SCHEMA_VERSION))
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, columns in MIGRATIONS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, decl in columns:
            if name not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
