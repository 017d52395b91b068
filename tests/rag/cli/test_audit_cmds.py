"""`rag audit ...` through click: anchor and verify --anchor catch truncation, prune keeps verify green, report."""
from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from rag.auditing import open_audit_log
from rag.cli import cli
from rag.config import Settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_HOME", str(tmp_path))
    log = open_audit_log(Settings(home=tmp_path))
    for i in range(5):
        log.append(request_id=f"r{i}", user="alice", endpoint="/v1/query", action="query", status=200,
                   route="server" if i % 2 else "local", level="internal", model={"name": "m", "version": "1"},
                   query=f"question {i}", detector_version="d", policy_version="p")
    return tmp_path


def rag(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _truncate(path, keep: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute("DELETE FROM audit WHERE seq > ?", (keep,))


@pytest.mark.parametrize("as_file", [True, False])
def test_when_newest_records_cut_then_verify_with_anchor_fails(home, tmp_path, as_file):
    anchor_file = tmp_path / "anchor.json"
    anchored = rag("audit", "anchor", "--out", anchor_file)
    anchor = json.loads(anchored.output)
    assert anchored.exit_code == 0 and anchor["seq"] == 5 and json.loads(anchor_file.read_text()) == anchor
    value = anchor_file if as_file else f"{anchor['seq']}:{anchor['hash']}"
    assert rag("audit", "verify", "--anchor", value).exit_code == 0
    _truncate(home / "audit.sqlite3", keep=3)
    assert rag("audit", "verify").exit_code == 0  # the chain alone cannot tell
    result = rag("audit", "verify", "--anchor", value, "--json")
    assert result.exit_code == 1 and "truncated" in json.loads(result.output)["reason"]


@pytest.mark.parametrize("value", ["12", "5:nothex", "{\"seq\": 1}"])
def test_when_anchor_malformed_then_exit_2(home, value):
    result = rag("audit", "verify", "--anchor", value)
    assert result.exit_code == 2 and "anchor" in result.output


def test_when_prune_run_then_checkpoint_appended_and_verify_green(home):
    path = home / "audit.sqlite3"
    assert rag("audit", "prune", "--older-than-days", "30").exit_code == 0  # nothing old yet
    assert json.loads(rag("audit", "verify", "--json").output)["records"] == 5
    pruned = rag("audit", "prune", "--older-than-days", "0", "--json")
    result = json.loads(pruned.output)
    assert pruned.exit_code == 0 and result["pruned"] == 5 and result["checkpoint"] == 6
    verified = rag("audit", "verify", "--json")
    assert verified.exit_code == 0 and json.loads(verified.output)["pruned_through"] == 5
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 1


def test_when_report_asked_then_text_and_json_agree(home):
    result = rag("audit", "report", "--since", "2000-01-01", "--json")
    report = json.loads(result.output)
    assert result.exit_code == 0 and report["requests"]["by_route"] == {"local": 3, "server": 2}
    assert report["server_summary"] == {"total": 2, "versions_recorded": 2, "egress_clean": 0, "egress_not_clean": 0,
                                        "egress_not_recorded": 2}
    text = rag("audit", "report").output
    assert "egress=not recorded" in text and "chain: intact" in text
    assert rag("audit", "report", "--since", "yesterday").exit_code == 2


def test_when_chain_broken_then_report_exit_1(home):
    with sqlite3.connect(home / "audit.sqlite3") as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET user = 'mallory' WHERE seq = 2")
    result = rag("audit", "report")
    assert result.exit_code == 1 and "BROKEN at record 2" in result.output
