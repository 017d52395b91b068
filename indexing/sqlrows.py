"""SQL row helpers of the index store: reading documents and hits, replacing chunks, groups and log rows."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from typing import Iterator

from indexing.types import Classification, DocumentRecord, SearchHit

HIT_COLUMNS = """c.id, c.chunk_id, c.doc_id, d.source, d.title, c.text, c.label, c.position, c.heading, c.page,
    (SELECT group_concat(g.group_name, char(31)) FROM document_groups g WHERE g.doc_id = c.doc_id),
    c.findings, c.label_stamp"""


def read_documents(conn: sqlite3.Connection, where: str, params: tuple) -> list[DocumentRecord]:
    """Documents matching `where` (SQL over alias d), ordered by source."""
    rows = conn.execute(
        "SELECT d.doc_id, d.source, d.title, d.format, d.content_hash, d.version, "
        "(SELECT group_concat(g.group_name, char(31)) FROM document_groups g WHERE g.doc_id = d.doc_id), "
        "d.declared, d.label, (SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id), d.ingested_at "
        f"FROM documents d {where} ORDER BY d.source", params).fetchall()
    return [DocumentRecord(r[0], r[1], r[2], r[3], r[4], r[5], groups(r[6]), Classification(r[7]),
                           Classification(r[8]), r[9], r[10]) for r in rows]


def delete_chunks(conn: sqlite3.Connection, doc_id: str) -> tuple[list[int], list[str]]:
    """Delete a document's chunks and their FTS rows; returns (rowids, chunk ids) removed."""
    rows = conn.execute("SELECT id, chunk_id FROM chunks WHERE doc_id = ?", (doc_id,)).fetchall()
    ids = [r[0] for r in rows]
    for batch in batches(ids, 500):
        marks = ",".join("?" * len(batch))
        conn.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({marks})", batch)
        conn.execute(f"DELETE FROM chunks WHERE id IN ({marks})", batch)
    return ids, [r[1] for r in rows]


def set_groups(conn: sqlite3.Connection, doc_id: str, names: "list[str] | tuple[str, ...]") -> None:
    """Replace a document's groups."""
    conn.execute("DELETE FROM document_groups WHERE doc_id = ?", (doc_id,))
    conn.executemany("INSERT INTO document_groups VALUES (?, ?)", [(doc_id, g) for g in sorted(set(names))])


def hit(row: tuple) -> SearchHit:
    """A SearchHit (score 0) from a row of HIT_COLUMNS."""
    return SearchHit(chunk_id=row[1], doc_id=row[2], source=row[3], title=row[4], text=row[5], score=0.0,
                     label=Classification(row[6]), groups=groups(row[10]), position=row[7], heading=row[8],
                     page=row[9], findings=json.loads(row[11]) if row[11] is not None else None,
                     label_stamp=row[12] or "")


def groups(joined: str | None) -> tuple[str, ...]:
    """Group names from a group_concat(..., char(31)) value."""
    return tuple(sorted(joined.split("\x1f"))) if joined else ()


def log(conn: sqlite3.Connection, doc_id: str | None, source: str, action: str, reason: str | None) -> None:
    """Append to the ingest log."""
    conn.execute("INSERT INTO ingest_log (at, doc_id, source, action, reason) VALUES (?,?,?,?,?)",
                 (now(), doc_id, source, action, reason))


def now() -> str:
    """UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def batches(items: list, size: int) -> Iterator[list]:
    """Consecutive slices of at most `size` items (SQLite limits bound parameters)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
