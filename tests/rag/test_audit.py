"""Audit log: append-only, hash-chained, redacted; `verify` finds the first tampered record."""
from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from rag.audit import GENESIS_HASH, AuditLog


def _append(log: AuditLog, n: int, query: str = "What is the salary of Jane Roe?") -> None:
    for i in range(n):
        log.append(request_id=f"r{i}", user="alice", endpoint="/v1/query", action="query", status=200,
                   route="local", reasons=["query contains PERSON (confidential) >= confidential"],
                   model={"name": "smollm2", "version": "1"}, chunk_ids=[f"c{i}"],
                   latencies={"total": 0.123456789, "retrieve": 0.01}, query=query)


def _tamper(path, sql: str, params=()) -> None:
    """Edit the database behind the log's back (dropping the append-only triggers first)."""
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute(sql, params)


def _db_bytes(path) -> bytes:
    """The database file and its write-ahead log (recent appends may still be only in the latter)."""
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


@pytest.fixture()
def log(tmp_path):
    return AuditLog(tmp_path / "audit.sqlite3")


def test_when_records_appended_then_chain_verifies(log):
    _append(log, 5)
    check = log.check()
    assert check.ok and check.records == 5 and log.verify() is None
    records = log.tail(5)
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["prev_hash"] == GENESIS_HASH
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(records, records[1:]))


def test_when_raw_text_off_then_query_stored_redacted(log):
    _append(log, 1)
    record = log.tail(1)[0]
    assert record["query"]["chars"] == len("What is the salary of Jane Roe?")
    assert len(record["query"]["hmac"]) == 16 and "text" not in record["query"]
    assert b"Jane Roe" not in _db_bytes(log.path)


def test_when_raw_text_on_then_query_text_kept(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite3", store_raw_text=True)
    _append(log, 1, query="hello there")
    assert log.tail(1)[0]["query"]["text"] == "hello there"


def test_when_same_query_twice_then_same_redacted_hash(log):
    _append(log, 2)
    first, second = log.tail(2)
    assert first["query"]["hmac"] == second["query"]["hmac"]


@pytest.mark.parametrize("sql, params, bad_seq", [
    ("UPDATE audit SET user = 'mallory' WHERE seq = 3", (), 3),
    ("UPDATE audit SET chunk_ids = ? WHERE seq = 2", (json.dumps(["secret-chunk"]),), 2),
    ("UPDATE audit SET status = 403 WHERE seq = 4", (), 4),
    ("DELETE FROM audit WHERE seq = 2", (), 2),
    ("UPDATE audit SET prev_hash = hash WHERE seq = 5", (), 5),
])
def test_when_row_tampered_then_verify_names_first_bad_record(log, sql, params, bad_seq):
    _append(log, 5)
    _tamper(log.path, sql, params)
    assert log.verify() == bad_seq
    assert not log.check().ok


def test_when_update_through_sql_then_triggers_refuse(log):
    _append(log, 1)
    with sqlite3.connect(log.path) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET user = 'mallory'")


def test_when_tampered_row_rehashed_alone_then_next_link_breaks(log):
    """Recomputing one record's own hash is not enough: the next record's prev_hash gives it away."""
    from rag.audit import record_hash

    _append(log, 3)
    record = log.tail(3)[1]
    record["user"] = "mallory"
    forged = record_hash(record, record["prev_hash"])
    _tamper(log.path, "UPDATE audit SET user = 'mallory', hash = ? WHERE seq = 2", (forged,))
    assert log.verify() == 3


def test_when_appending_from_threads_then_chain_stays_intact(log):
    threads = [threading.Thread(target=_append, args=(log, 10)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.check().records == 40 and log.verify() is None


def test_when_reopened_then_chain_continues(tmp_path):
    _append(AuditLog(tmp_path / "a.sqlite3"), 2)
    reopened = AuditLog(tmp_path / "a.sqlite3")
    _append(reopened, 1)
    assert reopened.tail(1)[0]["seq"] == 3 and reopened.verify() is None


def test_when_tail_asked_then_last_n_oldest_first(log):
    _append(log, 4)
    assert [r["seq"] for r in log.tail(2)] == [3, 4]
    assert log.tail(0) == []


# --- issue 12: keyed hashes, optional fields, anchors, pruning, legacy databases ------------------------


def test_when_secret_given_then_query_hash_is_keyed_and_key_not_in_database(tmp_path):
    one = AuditLog(tmp_path / "a.sqlite3", secret=b"k" * 32)
    two = AuditLog(tmp_path / "b.sqlite3", secret=b"j" * 32)
    first, second = one.redact("same question"), two.redact("same question")
    assert first["hmac"] != second["hmac"] and first["key_id"] != second["key_id"]
    assert AuditLog(tmp_path / "a.sqlite3", secret=b"k" * 32).redact("same question") == first
    _append(one, 1)
    assert b"k" * 32 not in _db_bytes(one.path)
    with sqlite3.connect(one.path) as conn:
        assert conn.execute("SELECT count(*) FROM audit_meta WHERE key = 'salt'").fetchone()[0] == 0


def test_when_optional_field_tampered_then_verify_names_it(log):
    log.append(request_id="r", user="u", endpoint="/v1/query", action="query", status=200, route="server",
               level="internal", detector_version="sha256:aaa", policy_version="sha256:bbb",
               egress_scan={"clean": True})
    _append(log, 1)
    assert log.verify() is None and log.tail(2)[0]["egress_scan"] == {"clean": True}
    _tamper(log.path, "UPDATE audit SET policy_version = 'sha256:forged' WHERE seq = 1")
    assert log.verify() == 1


@pytest.mark.parametrize("drop", [1, 3])
def test_when_newest_records_truncated_then_anchor_catches_it(log, drop):
    _append(log, 5)
    anchor = log.anchor()
    assert (anchor["seq"], anchor["records"]) == (5, 5)
    assert log.check(anchor=(anchor["seq"], anchor["hash"])).ok
    _tamper(log.path, "DELETE FROM audit WHERE seq > ?", (5 - drop,))
    assert log.check().ok  # the chain alone cannot see a cut tail
    result = log.check(anchor=(anchor["seq"], anchor["hash"]))
    assert not result.ok and "truncated" in result.reason


def test_when_anchored_record_rewritten_with_valid_chain_then_anchor_catches_it(log):
    _append(log, 3)
    anchor = log.anchor()
    _tamper(log.path, "DELETE FROM audit WHERE seq = 3")
    _append(log, 1)  # a new record 3, chained correctly: only the anchor knows it is not the original
    result = log.check(anchor=(anchor["seq"], anchor["hash"]))
    assert log.check().ok and not result.ok and result.first_bad_seq == 3


def _age(path, seqs, when="2020-01-01T00:00:00.000+00:00"):
    """Backdate records and re-chain them from the first (as if they had been written then)."""
    from rag.audit import record_hash

    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY seq")]
        prev = rows[0]["prev_hash"]
        for row in rows:
            for name in ("reasons", "model", "chunk_ids", "latencies", "query", "egress_scan", "pruned"):
                if row.get(name) is not None:
                    row[name] = json.loads(row[name])
            if row["seq"] in seqs:
                row["time"] = when
            row["prev_hash"] = prev
            row["hash"] = prev = record_hash(row, prev)
            conn.execute("UPDATE audit SET time = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                         (row["time"], row["prev_hash"], row["hash"], row["seq"]))


def test_when_old_records_pruned_then_checkpoint_keeps_verify_green(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite3", store_raw_text=True)
    _append(log, 6)
    _age(log.path, {1, 2, 3, 4})
    assert log.check().ok
    result = log.prune("2021-01-01T00:00:00+00:00")
    assert result == {"pruned": 4, "raw_pruned": 4, "checkpoint": 7}
    check = log.check()
    assert check.ok and check.records == 3 and check.pruned_through == 4
    checkpoint = log.tail(1)[0]
    assert checkpoint["action"] == "checkpoint" and checkpoint["pruned"]["count"] == 4
    assert [r["seq"] for r in log.tail(10)] == [5, 6, 7]
    _append(log, 1)
    assert log.check().ok and log.tail(1)[0]["seq"] == 8
    with sqlite3.connect(log.path) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit WHERE seq = 5")  # the trigger is back after pruning


def test_when_pruned_twice_then_still_verifies_and_anchors_check_against_checkpoints(log):
    _append(log, 4)
    _age(log.path, {1, 2})
    log.prune("2021-01-01T00:00:00+00:00")  # checkpoint 5
    _append(log, 2)  # 6, 7
    _age(log.path, {3, 4, 5, 6})
    assert log.check().ok
    six = log.tail(2)[0]
    anchor = log.anchor()
    assert log.prune("2021-01-01T00:00:00+00:00") == {"pruned": 4, "raw_pruned": 0, "checkpoint": 8}
    check = log.check()
    assert check.ok and check.pruned_through == 6 and check.records == 2
    assert log.check(anchor=(anchor["seq"], anchor["hash"])).ok
    assert log.check(anchor=(6, six["hash"])).ok  # covered by the checkpoint's hash
    assert not log.check(anchor=(6, "f" * 64)).ok


def test_when_pruned_records_deleted_without_checkpoint_then_verify_fails(log):
    _append(log, 4)
    _tamper(log.path, "DELETE FROM audit WHERE seq <= 2")
    result = log.check()
    assert not result.ok and result.first_bad_seq == 1 and "no checkpoint" in result.reason


def test_when_only_raw_text_expires_then_records_stay_and_verify(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite3", store_raw_text=True)
    _append(log, 3, query="raw question")
    assert log.tail(1)[0]["query"]["text"] == "raw question"
    result = log.prune("2000-01-01T00:00:00+00:00", raw_before="2999-01-01T00:00:00+00:00")
    assert result["pruned"] == 0 and result["raw_pruned"] == 3
    assert log.check().ok and log.check().records == 3 and "text" not in log.tail(1)[0]["query"]
    with sqlite3.connect(log.path) as conn:
        assert conn.execute("SELECT count(*) FROM audit_raw").fetchone()[0] == 0


LEGACY_SCHEMA = """
CREATE TABLE audit (seq INTEGER PRIMARY KEY, time TEXT NOT NULL, request_id TEXT NOT NULL, user TEXT NOT NULL,
    endpoint TEXT NOT NULL, action TEXT NOT NULL, status INTEGER NOT NULL, route TEXT, reasons TEXT NOT NULL,
    model TEXT NOT NULL, chunk_ids TEXT NOT NULL, latencies TEXT NOT NULL, target TEXT, query TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'append-only'); END;
"""


def test_when_legacy_database_opened_then_migrated_in_place_and_salt_moved_out(tmp_path):
    """A log written by the previous version: its records keep verifying; its salt leaves the database."""
    import hashlib

    from rag.audit import canonical_json
    from rag.auditing import open_audit_log
    from rag.config import Settings

    settings = Settings(home=tmp_path)
    with sqlite3.connect(settings.audit_path) as conn:
        conn.executescript(LEGACY_SCHEMA)
        conn.execute("INSERT INTO audit_meta VALUES ('salt', 'legacysalt')")
        prev = GENESIS_HASH
        for seq in (1, 2):
            body = {"seq": seq, "time": f"2026-01-0{seq}T00:00:00.000+00:00", "request_id": f"r{seq}", "user": "a",
                    "endpoint": "/v1/query", "action": "query", "status": 200, "route": "local", "reasons": [],
                    "model": {}, "chunk_ids": [], "latencies": {}, "target": None,
                    "query": {"chars": 3, "sha256": "abc"}, "prev_hash": prev}
            digest = hashlib.sha256((prev + "\n" + canonical_json(body)).encode()).hexdigest()
            values = [canonical_json(v) if isinstance(v, (list, dict)) else v for v in body.values()]
            conn.execute(f"INSERT INTO audit VALUES ({','.join('?' * 16)})", (*values, digest))
            prev = digest
    log = open_audit_log(settings)
    assert log.check().ok and log.check().records == 2
    assert (tmp_path / "audit.legacy-salt").read_text().strip() == "legacysalt"
    assert oct((tmp_path / "audit.legacy-salt").stat().st_mode & 0o777) == "0o600"
    assert log.legacy_salt() is None
    log.append(request_id="r3", user="a", endpoint="/v1/query", action="query", status=200, route="server",
               detector_version="d1", policy_version="p1", egress_scan={"clean": True})
    assert log.check().ok and log.tail(1)[0]["detector_version"] == "d1"
    assert [r["request_id"] for r in log.tail(3)] == ["r1", "r2", "r3"]  # no data lost
