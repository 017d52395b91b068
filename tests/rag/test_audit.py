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
    assert len(record["query"]["sha256"]) == 16 and "text" not in record["query"]
    assert b"Jane Roe" not in log.path.read_bytes()


def test_when_raw_text_on_then_query_text_kept(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite3", store_raw_text=True)
    _append(log, 1, query="hello there")
    assert log.tail(1)[0]["query"]["text"] == "hello there"


def test_when_same_query_twice_then_same_redacted_hash(log):
    _append(log, 2)
    first, second = log.tail(2)
    assert first["query"]["sha256"] == second["query"]["sha256"]


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
