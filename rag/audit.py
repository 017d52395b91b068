"""Append-only audit log in SQLite, each record chained to the previous one by SHA-256.

Each record holds: seq, time, request_id, user, endpoint, action, status, route, reasons, model
(name, version, sha256), chunk_ids, latencies, target (a document id or user name for changes), the
query in redacted form (length + keyed HMAC-SHA256 prefix and the key's id), the previous record's
hash and its own hash::

    hash = sha256(prev_hash + "\\n" + canonical_json(record without hash))

Optional fields (`level`, `detector_version`, `policy_version`, `egress_scan`, `pruned`) enter the
hash only when set, so records written before they existed keep their hashes. Changing, inserting or
deleting any record breaks the chain from there on; `check()` finds the first broken record. SQLite
triggers also refuse UPDATE and DELETE through SQL, but the chain is what proves integrity.

Truncation of the newest records is caught with an *anchor* (`anchor()`: head seq, count and hash,
kept elsewhere) checked by `check(anchor=...)`. Pruning (`prune`) deletes the oldest records and
appends a checkpoint record carrying the hash of the last pruned one, so the chain stays verifiable.
Raw query text (only when `store_raw_text`) lives outside the chain in `audit_raw`, so it can expire
sooner than the records without breaking any hash.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64
_BASE_FIELDS = ("seq", "time", "request_id", "user", "endpoint", "action", "status", "route", "reasons",
                "model", "chunk_ids", "latencies", "target", "query", "prev_hash")
OPTIONAL_FIELDS = ("level", "detector_version", "policy_version", "egress_scan", "pruned")
_FIELDS = _BASE_FIELDS + OPTIONAL_FIELDS
_JSON_FIELDS = {"reasons", "model", "chunk_ids", "latencies", "query", "egress_scan", "pruned"}
CHECKPOINT_ACTION = "checkpoint"

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
CREATE TABLE IF NOT EXISTS audit_raw (seq INTEGER PRIMARY KEY, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit(time);
"""
_NO_DELETE = ("CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit "
              "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
_TRIGGERS = ("CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit "
             "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n" + _NO_DELETE + ";")


@dataclass(frozen=True)
class Verification:
    """Result of checking the chain: `first_bad_seq` is None when every record is intact."""

    records: int
    first_bad_seq: int | None
    reason: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    pruned_through: int = 0

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_hash(record: Mapping[str, Any], prev_hash: str) -> str:
    """The chain hash of `record` (its fields other than `hash`; unset optional fields left out) after `prev_hash`."""
    body = {k: record[k] for k in _BASE_FIELDS}
    body.update({k: record[k] for k in OPTIONAL_FIELDS if record.get(k) is not None})
    return hashlib.sha256((prev_hash + "\n" + canonical_json(body)).encode("utf-8")).hexdigest()


def parse_anchor(value: str) -> tuple[int, str]:
    """(seq, hash) from ``SEQ:HASH`` or the JSON that `rag audit anchor` writes.

    Raises:
        ValueError: the value is neither (the message shows both forms).
    """
    text = value.strip()
    try:
        if text.startswith("{"):
            data = json.loads(text)
            seq, digest = int(data["seq"]), str(data["hash"])
        else:
            seq_text, digest = text.split(":", 1)
            seq = int(seq_text)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise ValueError("an anchor is SEQ:HASH (e.g. 42:3fa9...) or the JSON written by `rag audit anchor`") from None
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or seq < 0:
        raise ValueError(f"bad anchor hash {digest[:20]!r}: expected 64 lowercase hex digits")
    return seq, digest


class AuditLog:
    """The append-only, hash-chained audit log at `path`.

    Args:
        path: the SQLite file (created with its folder).
        store_raw_text: keep the raw query text (outside the chain, in `audit_raw`; off by default).
        secret: the HMAC key for query hashes, kept apart from the database (see `rag.auditing`).
            None: a process-local random key (hashes are then not comparable across runs).
    """

    def __init__(self, path: Path, *, store_raw_text: bool = False, secret: bytes | None = None) -> None:
        self.path = Path(path)
        self.store_raw_text = store_raw_text
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._write_conn: sqlite3.Connection | None = None
        self._secret = secret if secret is not None else hashlib.sha256(str(id(self)).encode()).digest()
        self.key_id = hashlib.sha256(b"rag-audit-key-id\n" + self._secret).hexdigest()[:8]
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
            _migrate(conn)
            conn.executescript(_TRIGGERS)

    def _writer(self) -> sqlite3.Connection:
        """The connection appends and prunes use (kept open for the life of the log).

        Call with `_lock` held; other processes are kept out by ``BEGIN IMMEDIATE``.
        """
        if self._write_conn is None:
            self._write_conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        return self._write_conn

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    def close(self) -> None:
        """Close the kept-open write connection (a later append opens it again)."""
        with self._lock:
            if self._write_conn is not None:
                self._write_conn.close()
                self._write_conn = None

    def legacy_salt(self) -> str | None:
        """The salt an older version kept inside the database (moved out by `rag.auditing.open_audit_log`)."""
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM audit_meta WHERE key = 'salt'").fetchone()
        return row[0] if row else None

    def drop_legacy_salt(self) -> None:
        """Remove the in-database salt of older versions (call after saving it elsewhere)."""
        with self._connect() as conn:
            conn.execute("DELETE FROM audit_meta WHERE key = 'salt'")

    def redact(self, text: str | None) -> dict[str, Any]:
        """The stored form of a query: its length, a keyed HMAC-SHA256 prefix and the key's id."""
        if text is None:
            return {}
        digest = hmac.new(self._secret, text.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
        return {"chars": len(text), "hmac": digest, "key_id": self.key_id}

    def append(self, *, request_id: str, user: str, endpoint: str, action: str, status: int,
               route: str | None = None, reasons: Sequence[str] = (), model: Mapping[str, Any] | None = None,
               chunk_ids: Sequence[str] = (), latencies: Mapping[str, float] | None = None,
               target: str | None = None, query: str | None = None, level: str | None = None,
               detector_version: str | None = None, policy_version: str | None = None,
               egress_scan: Mapping[str, Any] | None = None, pruned: Mapping[str, Any] | None = None,
               ) -> dict[str, Any]:
        """Append one record and return it (with seq and hash). Safe across threads and processes."""
        record: dict[str, Any] = {
            "time": _now(), "request_id": request_id, "user": user, "endpoint": endpoint, "action": action,
            "status": int(status), "route": route, "reasons": [str(r) for r in reasons],
            "model": _plain(dict(model or {})), "chunk_ids": [str(c) for c in chunk_ids],
            "latencies": {k: round(float(v), 6) for k, v in (latencies or {}).items()},
            "target": target, "query": self.redact(query), "level": level,
            "detector_version": detector_version, "policy_version": policy_version,
            "egress_scan": None if egress_scan is None else _plain(dict(egress_scan)),
            "pruned": None if pruned is None else _plain(dict(pruned)),
        }
        with self._lock:
            conn = self._writer()
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._insert(conn, record)
                if self.store_raw_text and query is not None:
                    conn.execute("INSERT INTO audit_raw (seq, text) VALUES (?, ?)", (record["seq"], query))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if self.store_raw_text and query is not None:
            record["query"] = {**record["query"], "text": query}
        return record

    @staticmethod
    def _insert(conn: sqlite3.Connection, record: dict[str, Any]) -> None:
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        record["seq"], record["prev_hash"] = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        record["hash"] = record_hash(record, record["prev_hash"])
        columns = (*_FIELDS, "hash")
        values = [_column_value(c, record[c]) for c in columns]
        conn.execute(f"INSERT INTO audit ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            for row in conn.execute(sql, params):
                record = dict(row)
                for name in _JSON_FIELDS:
                    if record.get(name) is not None:
                        record[name] = json.loads(record[name])
                yield record

    def _with_raw(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not records:
            return records
        with self._connect() as conn:
            raw = dict(conn.execute("SELECT seq, text FROM audit_raw WHERE seq BETWEEN ? AND ?",
                                    (records[0]["seq"], records[-1]["seq"])).fetchall())
        for record in records:
            if record["seq"] in raw:
                record["query"] = {**record["query"], "text": raw[record["seq"]]}
        return records

    def tail(self, n: int = 20) -> list[dict[str, Any]]:
        """The last `n` records, oldest first (raw text merged into ``query.text`` where kept)."""
        rows = list(self._rows("SELECT * FROM audit ORDER BY seq DESC LIMIT ?", (max(0, int(n)),)))
        return self._with_raw(rows[::-1])

    def records(self, since: str | None = None, until: str | None = None) -> Iterator[dict[str, Any]]:
        """Records with ``since <= time < until`` (ISO 8601 strings; None: unbounded), by seq."""
        return self._rows("SELECT * FROM audit WHERE time >= ? AND time < ? ORDER BY seq",
                          (since or "", until or "\uffff"))

    def anchor(self) -> dict[str, Any]:
        """The head of the log to keep elsewhere: ``{seq, hash, records, time}`` (seq 0 when empty)."""
        check = self.check()
        return {"seq": check.head_seq, "hash": check.head_hash, "records": check.records, "time": _now()}

    def check(self, anchor: tuple[int, str] | None = None) -> Verification:
        """Walk the whole chain and report the first record whose hash or link is wrong.

        Args:
            anchor: (seq, hash) from an earlier `anchor()`; the log must still hold that record with that
                hash (or a checkpoint must cover it), otherwise records were truncated or rewritten.
        """
        prev_hash, expected_seq, count, through = GENESIS_HASH, 1, 0, 0
        checkpoints: dict[int, str] = {}
        for record in self._rows("SELECT * FROM audit ORDER BY seq"):
            count += 1
            seq = record["seq"]
            if count == 1 and seq != 1:
                pruned = self._pruned_start()
                if pruned is None or pruned[0] != seq - 1:
                    return Verification(count, 1, f"records 1 to {seq - 1} are missing and no checkpoint covers them")
                prev_hash, expected_seq, through = pruned[1], seq, seq - 1
            if seq != expected_seq:
                return Verification(count, expected_seq, f"record {expected_seq} is missing (next is {seq})")
            if record["prev_hash"] != prev_hash:
                return Verification(count, seq, "its prev_hash does not match the previous record's hash")
            if record_hash(record, prev_hash) != record["hash"]:
                return Verification(count, seq, "its content does not match its hash (the record was changed)")
            if record["action"] == CHECKPOINT_ACTION and record.get("pruned"):
                checkpoints[int(record["pruned"]["to_seq"])] = record["pruned"]["last_hash"]
            prev_hash, expected_seq = record["hash"], seq + 1
        result = Verification(count, None, "", expected_seq - 1, prev_hash, through)
        return result if anchor is None else self._check_anchor(result, anchor, checkpoints)

    def _check_anchor(self, result: Verification, anchor: tuple[int, str], checkpoints: dict[int, str]) -> Verification:
        seq, digest = anchor
        if seq > result.head_seq:
            return Verification(result.records, result.head_seq + 1, f"the anchor names record {seq} but the log ends "
                                f"at {result.head_seq}: records were truncated", result.head_seq, result.head_hash,
                                result.pruned_through)
        if seq == 0 or seq <= result.pruned_through:
            if seq == 0 or checkpoints.get(seq, digest) == digest:
                return result
            return Verification(result.records, seq, "the anchor does not match the checkpoint covering it")
        stored = next(self._rows("SELECT * FROM audit WHERE seq = ?", (seq,)), None)
        if stored is None or stored["hash"] != digest:
            return Verification(result.records, seq, f"record {seq} does not match the anchor (rewritten)",
                                result.head_seq, result.head_hash, result.pruned_through)
        return result

    def _pruned_start(self) -> tuple[int, str] | None:
        """(last pruned seq, its hash) as vouched by a checkpoint record still in the log."""
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM audit_meta WHERE key = 'pruned_through'").fetchone()
        if row is None:
            return None
        seq, digest = json.loads(row[0])
        for record in self._rows("SELECT * FROM audit WHERE action = ? ORDER BY seq DESC", (CHECKPOINT_ACTION,)):
            pruned = record.get("pruned") or {}
            if pruned.get("to_seq") == seq and pruned.get("last_hash") == digest:
                return seq, digest
        return None

    def verify(self) -> int | None:
        """The seq of the first broken record, or None when the chain is intact."""
        return self.check().first_bad_seq

    def prune(self, before: str, *, raw_before: str | None = None, user: str = "system",
              request_id: str = "prune") -> dict[str, Any]:
        """Delete records older than `before` (ISO time) and raw texts older than `raw_before`.

        The pruned records must verify first; a checkpoint record is then appended carrying the range,
        the count and the hash of the last pruned record, so `check()` still verifies what remains.

        Returns:
            ``{"pruned": n, "raw_pruned": m, "checkpoint": seq or None}``.

        Raises:
            ValueError: the chain is broken (verify and investigate before pruning anything).
        """
        check = self.check()
        if not check.ok:
            raise ValueError(f"the audit log does not verify (record {check.first_bad_seq}: {check.reason}); "
                             "investigate before pruning")
        raw_cut = raw_before or before
        with self._lock:
            conn = self._writer()
            conn.execute("BEGIN IMMEDIATE")
            try:
                raw_pruned = conn.execute("DELETE FROM audit_raw WHERE seq IN (SELECT seq FROM audit WHERE time < ?)",
                                          (raw_cut,)).rowcount
                to_seq = conn.execute("SELECT max(seq) FROM audit WHERE time < ?", (before,)).fetchone()[0]
                checkpoint = self._delete_prefix(conn, to_seq, user, request_id) if to_seq else None
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return {"pruned": checkpoint["pruned"]["count"] if checkpoint else 0, "raw_pruned": raw_pruned,
                "checkpoint": checkpoint["seq"] if checkpoint else None}

    def _delete_prefix(self, conn: sqlite3.Connection, to_seq: int, user: str, request_id: str) -> dict[str, Any]:
        first, count = conn.execute("SELECT min(seq), count(*) FROM audit WHERE seq <= ?", (to_seq,)).fetchone()
        last_hash = conn.execute("SELECT hash FROM audit WHERE seq = ?", (to_seq,)).fetchone()[0]
        pruned = {"from_seq": first, "to_seq": to_seq, "count": count, "last_hash": last_hash}
        record: dict[str, Any] = {
            "time": _now(), "request_id": request_id, "user": user, "endpoint": "audit:prune",
            "action": CHECKPOINT_ACTION, "status": 200, "route": None, "reasons": [f"pruned records {first}-{to_seq}"],
            "model": {}, "chunk_ids": [], "latencies": {}, "target": None, "query": {}, "level": None,
            "detector_version": None, "policy_version": None, "egress_scan": None, "pruned": pruned,
        }
        self._insert(conn, record)  # appended first: the chain continues from the current head
        conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        conn.execute("DELETE FROM audit WHERE seq <= ?", (to_seq,))
        conn.execute("DELETE FROM audit_raw WHERE seq <= ?", (to_seq,))
        conn.execute(_NO_DELETE)  # back in the same transaction: nobody sees the log without it
        conn.execute("INSERT OR REPLACE INTO audit_meta (key, value) VALUES ('pruned_through', ?)",
                     (json.dumps([to_seq, last_hash]),))
        return record


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the optional columns to a log created by an older version (existing rows keep their hashes)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(audit)")}
    for name in OPTIONAL_FIELDS:
        if name not in have:
            conn.execute(f"ALTER TABLE audit ADD COLUMN {name} TEXT")


def _column_value(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return None if value is None and name in OPTIONAL_FIELDS else canonical_json(value)
    return value


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _plain(value: Any) -> Any:
    """JSON round-trip, so the hashed form equals what is read back."""
    return json.loads(canonical_json(value))
