"""The graph's source of truth: mention and edge rows in the index's own SQLite database.

Rows are written inside each document's ingest transaction, so a crash leaves the previous state and a
deleted chunk takes its mentions and edges with it. The networkx graph is derived from these rows.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from knowledge_graph.extract import Extraction

SCHEMA = """
CREATE TABLE IF NOT EXISTS kg_mentions (
    chunk_id   TEXT NOT NULL,
    doc_id     TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    source     TEXT NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (chunk_id, entity_key)
);
CREATE INDEX IF NOT EXISTS kg_mentions_key ON kg_mentions (entity_key);
CREATE TABLE IF NOT EXISTS kg_edges (
    src      TEXT NOT NULL,
    dst      TEXT NOT NULL,
    relation TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    PRIMARY KEY (src, dst, relation, chunk_id)
);
CREATE INDEX IF NOT EXISTS kg_edges_chunk ON kg_edges (chunk_id);
CREATE TABLE IF NOT EXISTS kg_chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kg_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Preference among the ways an entity was found, best first (a name found several ways keeps the best).
SOURCE_RANK = {"catalog": 0, "pattern": 1, "ner": 2, "noun_phrase": 3}


@dataclass(frozen=True)
class MentionRow:
    """One entity mentioned in one chunk (`count` times), with its best-ranked name and type there."""

    chunk_id: str
    doc_id: str
    entity_key: str
    name: str
    type: str
    source: str
    count: int


@dataclass(frozen=True)
class EdgeRow:
    """One relation between two entity keys supported by one chunk."""

    src: str
    dst: str
    relation: str
    chunk_id: str


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the graph tables if missing (idempotent; safe inside an open transaction)."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def has_schema(conn: sqlite3.Connection) -> bool:
    """True when the graph tables exist in this database."""
    row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='kg_mentions'").fetchone()
    return bool(row[0])


def delete_chunks(conn: sqlite3.Connection, chunk_ids: Sequence[str]) -> None:
    """Remove every mention and edge supported by these chunks."""
    rows = [(cid,) for cid in chunk_ids]
    for table in ("kg_mentions", "kg_edges", "kg_chunks"):
        conn.executemany(f"DELETE FROM {table} WHERE chunk_id = ?", rows)


def bump_revision(conn: sqlite3.Connection) -> None:
    """Count a change of the graph rows (lets other processes notice a graph-only change)."""
    conn.execute("INSERT INTO kg_meta VALUES ('revision', '1') "
                 "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")


def revision(conn: sqlite3.Connection) -> int:
    """The number of graph row changes so far (0 before the first)."""
    if not has_schema(conn):
        return 0
    row = conn.execute("SELECT value FROM kg_meta WHERE key = 'revision'").fetchone()
    return int(row[0]) if row else 0


def insert_extractions(conn: sqlite3.Connection, chunks: Iterable[tuple[str, str, Extraction]]) -> None:
    """Insert (chunk_id, doc_id, extraction) rows, replacing any previous rows of the same chunks."""
    mention_rows, edge_rows, chunk_rows = [], [], []
    for chunk_id, doc_id, extraction in chunks:
        mention_rows.extend(_mention_rows(chunk_id, doc_id, extraction))
        edge_rows.extend((r.src, r.dst, r.relation, chunk_id) for r in extraction.relations)
        chunk_rows.append((chunk_id, doc_id))
    conn.executemany("INSERT OR REPLACE INTO kg_chunks VALUES (?, ?)", chunk_rows)
    conn.executemany("INSERT OR REPLACE INTO kg_mentions VALUES (?, ?, ?, ?, ?, ?, ?)", mention_rows)
    conn.executemany("INSERT OR IGNORE INTO kg_edges VALUES (?, ?, ?, ?)", edge_rows)


def _mention_rows(chunk_id: str, doc_id: str, extraction: Extraction) -> list[tuple]:
    best: dict[str, tuple] = {}
    counts: dict[str, int] = {}
    for m in extraction.mentions:
        counts[m.key] = counts.get(m.key, 0) + 1
        rank = SOURCE_RANK.get(m.source, 9)
        if m.key not in best or rank < best[m.key][0]:
            best[m.key] = (rank, m.name, m.type, m.source)
    return [(chunk_id, doc_id, key, name, type_, source, counts[key])
            for key, (_, name, type_, source) in best.items()]


def read_mentions(conn: sqlite3.Connection) -> list[MentionRow]:
    """All mention rows, in a stable order."""
    if not has_schema(conn):
        return []
    sql = "SELECT chunk_id, doc_id, entity_key, name, type, source, count FROM kg_mentions ORDER BY entity_key, chunk_id"
    return [MentionRow(*row) for row in conn.execute(sql)]


def read_edges(conn: sqlite3.Connection) -> list[EdgeRow]:
    """All edge rows, in a stable order."""
    if not has_schema(conn):
        return []
    sql = "SELECT src, dst, relation, chunk_id FROM kg_edges ORDER BY src, dst, relation, chunk_id"
    return [EdgeRow(*row) for row in conn.execute(sql)]


def extracted_chunk_ids(conn: sqlite3.Connection) -> set[str]:
    """Chunk ids that went through extraction (with or without entities)."""
    if not has_schema(conn):
        return set()
    return {row[0] for row in conn.execute("SELECT chunk_id FROM kg_chunks")}
