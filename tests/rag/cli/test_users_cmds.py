"""`rag users ...` through click: key lifecycle, limits, every change audited; bad input is one line + exit code."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rag.auditing import open_audit_log
from rag.cli import cli
from rag.config import Settings
from rag.users import UserStore


@pytest.fixture
def rag(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_HOME", str(tmp_path))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(a) for a in args])


def test_when_key_lifecycle_run_then_keys_follow_and_each_change_audited(rag, tmp_path):
    added = rag("users", "add", "alice", "--groups", "hr", "--expires-in-days", "30", "--rpm", "10", "--json")
    assert added.exit_code == 0, added.output
    first = json.loads(added.output)
    assert first["expires_at"] and first["rate_limit_rpm"] == 10 and first["status"] == "active"
    store = UserStore(tmp_path / "users.sqlite3")
    assert store.authenticate(first["api_key"]).name == "alice"

    assert rag("users", "revoke", "alice").exit_code == 0
    assert store.authenticate(first["api_key"]) is None
    rotated = json.loads(rag("users", "rotate", "alice", "--json").output)
    assert store.authenticate(rotated["api_key"]).name == "alice" and rotated["api_key"] != first["api_key"]
    assert rag("users", "expire", "alice").exit_code == 0
    assert store.authenticate(rotated["api_key"]) is None
    assert rag("users", "limits", "alice", "--concurrent", "1").exit_code == 0

    listed = json.loads(rag("users", "list", "--json").output)
    assert listed[0]["status"] == "expired" and listed[0]["rate_limit_concurrent"] == 1
    assert "api_key" not in listed[0] and rotated["api_key"] not in rag("users", "list").output
    log = open_audit_log(Settings(home=tmp_path))
    records = log.tail(10)
    assert [r["action"] for r in records] == ["user.add", "user.revoke", "user.rotate", "user.expire", "user.limits"]
    assert all(r["target"] == "alice" and r["endpoint"] == "cli:users" for r in records)
    assert log.check().ok and first["api_key"] not in json.dumps(records)


@pytest.mark.parametrize("args, code, words", [
    (["users", "revoke", "ghost"], 1, "no user named 'ghost'"),
    (["users", "rotate", "ghost"], 1, "no user named 'ghost'"),
    (["users", "add", "bob", "--groups", "hr", "--expires-at", "soon"], 2, "ISO 8601"),
    (["users", "add", "bob", "--groups", "hr", "--expires-at", "2030-01-01", "--expires-in-days", "3"], 2, "not both"),
])
def test_when_users_input_bad_then_one_line_and_exit_code(rag, args, code, words):
    result = rag(*args)
    assert result.exit_code == code and words in result.output and "Traceback" not in result.output
