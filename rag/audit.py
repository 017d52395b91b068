"""Append-only audit log in SQLite, each record chained to the previous one by SHA-256.

Each record holds: seq, time, request_id, user, endpoint, action, status, route, reasons, model
(name, version, sha256), chunk_ids, latencies, target (a document id for document changes), the
query in redacted form (length + salted SHA-256 prefix; the raw text only when
`Settings.audit_store_raw_text`), the previous record's hash and its own hash::

    hash = sha256(prev_hash + "\\n" + canonical_json(record without hash))

so changing, inserting or deleting any record breaks the chain from there on; `verify()` finds the
first broken record. SQLite triggers also refuse UPDATE and DELETE through SQL, but the chain is
what proves integrity (a triggered database can still be edited by someone who drops them).
A truncated tail cannot be detected by the chain alone: ship `tail` elsewhere to anchor it.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64
_FIELDS = ("seq", "time", "request_id", "user", "endpoint", "action", "status", "route", "reasons",
           "model", "chunk_ids", "latencies", "target", "query", "prev_hash")
_JSON_FIELDS = {"reasons", "model", "chunk_ids", "latencies", "query"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    request_id TEXT NOT NULL,
    user TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    action TEXT NOT NULL,
    status INTEGER NOT NULL,
    route TEXT,
    reasons TEXT NOT NULL,
    model TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,
    latencies TEXT NOT NULL,
    target TEXT,
    query TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


@dataclass(frozen=True)
class Verification:
    """Result of checking the chain: `first_bad_seq` is None when every record is intact."""

    records: int
    first_bad_seq: int | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_hash(record: Mapping[str, Any], prev_hash: str) -> str:
    """The chain hash of `record` (its fields other than `hash`) after `prev_hash`."""
    body = {k: record[k] for k in _FIELDS}
    return hashlib.sha256((prev_hash + "\n" + canonical_json(body)).encode("utf-8")).hexdigest()


class AuditLog:
    """The append-only, hash-chained audit log at `path`.

    Args:
        path: the SQLite file (created with its folder).
        store_raw_text: keep the raw query text next to its redacted form (off by default).
    """

    def __init__(self, path: Path, *, store_raw_text: bool = False) -> None:
        self.path = Path(path)
        self.store_raw_text = store_raw_text
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
            conn.execute("INSERT OR IGNORE INTO audit_meta (key, value) VALUES ('salt', ?)", (secrets.token_hex(16),))
            self._salt = conn.execute("SELECT value FROM audit_meta WHERE key = 'salt'").fetchone()[0]

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    def redact(self, text: str | None) -> dict[str, Any]:
        """The stored form of a query: its length and a salted SHA-256 prefix (plus raw text if configured)."""
        if text is None:
            return {}
        digest = hashlib.sha256((self._salt + text).encode("utf-8")).hexdigest()[:16]
        redacted: dict[str, Any] = {"chars": len(text), "sha256": digest}
        if self.store_raw_text:
            redacted["text"] = text
        return redacted

    def append(self, *, request_id: str, user: str, endpoint: str, action: str, status: int,
               route: str | None = None, reasons: Sequence[str] = (), model: Mapping[str, Any] | None = None,
               chunk_ids: Sequence[str] = (), latencies: Mapping[str, float] | None = None,
               target: str | None = None, query: str | None = None) -> dict[str, Any]:
        """Append one record and return it (with seq and hash). Safe across threads and processes."""
        record: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "request_id": request_id, "user": user, "endpoint": endpoint, "action": action,
            "status": int(status), "route": route, "reasons": [str(r) for r in reasons],
            "model": _plain(dict(model or {})), "chunk_ids": [str(c) for c in chunk_ids],
            "latencies": {k: round(float(v), 6) for k, v in (latencies or {}).items()},
            "target": target, "query": self.redact(query),
        }
        with self._lock, self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                record["seq"], record["prev_hash"] = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
                record["hash"] = record_hash(record, record["prev_hash"])
                columns = (*_FIELDS, "hash")
                values = [canonical_json(record[c]) if c in _JSON_FIELDS else record[c] for c in columns]
                conn.execute(f"INSERT INTO audit ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                             values)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return record

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            for row in conn.execute(sql, params):
                record = dict(row)
                for name in _JSON_FIELDS:
                    record[name] = json.loads(record[name])
                yield record

    def tail(self, n: int = 20) -> list[dict[str, Any]]:
        """The last `n` records, oldest first."""
        rows = list(self._rows("SELECT * FROM audit ORDER BY seq DESC LIMIT ?", (max(0, int(n)),)))
        return rows[::-1]

    def check(self) -> Verification:
        """Walk the whole chain and report the first record whose hash or link is wrong."""
        prev_hash, expected_seq, count = GENESIS_HASH, 1, 0
        for record in self._rows("SELECT * FROM audit ORDER BY seq"):
            count += 1
            seq = record["seq"]
            if seq != expected_seq:
                return Verification(count, expected_seq, f"record {expected_seq} is missing (next is {seq})")
            if record["prev_hash"] != prev_hash:
                return Verification(count, seq, "its prev_hash does not match the previous record's hash")
            if record_hash(record, prev_hash) != record["hash"]:
                return Verification(count, seq, "its content does not match its hash (the record was changed)")
            prev_hash, expected_seq = record["hash"], seq + 1
        return Verification(count, None)

    def verify(self) -> int | None:
        """The seq of the first broken record, or None when the chain is intact."""
        return self.check().first_bad_seq


def _plain(value: Any) -> Any:
    """JSON round-trip, so the hashed form equals what is read back."""
    return json.loads(canonical_json(value))
