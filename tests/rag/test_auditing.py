"""The audit secret lives apart from the database; one recording path for API and CLI; the report's logic."""
from __future__ import annotations

import os

import pytest

from rag.audit import AuditLog
from rag.audit_report import build_report, egress_state, summarize
from rag.auditing import load_secret, open_audit_log, record_answer, record_refusal, versions_in_force
from rag.config import Settings
from rag.types import Answer


def _answer(route="server", level="internal", **extra) -> Answer:
    answer = Answer(request_id="rid", text="t", citations=[], route=route, reasons=["small prompt"], level=level,
                    model={"name": f"m-{route}", "version": "7"}, latencies={"total": 0.5}, chunk_ids=["c1"])
    for name, value in extra.items():
        setattr(answer, name, value)
    return answer


def test_when_no_secret_configured_then_key_file_created_mode_600_outside_database(tmp_path):
    settings = Settings(home=tmp_path)
    key = load_secret(settings)
    path = tmp_path / "audit.key"
    assert len(key) == 64 and oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_secret(settings) == key  # stable across runs
    log = open_audit_log(settings)
    log.append(request_id="r", user="u", endpoint="e", action="query", status=200, query="q")
    assert all(key not in p.read_bytes() for p in tmp_path.glob("audit.sqlite3*"))


def test_when_secret_in_environment_then_it_wins_and_no_file_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_AUDIT_SECRET", "from-env-secret")
    assert load_secret(Settings(home=tmp_path)) == b"from-env-secret"
    assert not (tmp_path / "audit.key").exists()


def test_when_key_file_readable_by_others_then_refused_with_chmod_hint(tmp_path):
    path = tmp_path / "audit.key"
    path.write_text("x" * 64)
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_secret(Settings(home=tmp_path))


def test_when_key_rotated_then_records_name_their_key(tmp_path):
    settings = Settings(home=tmp_path)
    first = open_audit_log(settings).append(request_id="r1", user="u", endpoint="e", action="query", status=200,
                                            query="same")
    (tmp_path / "audit.key").rename(tmp_path / "audit.key.old")
    second = open_audit_log(settings).append(request_id="r2", user="u", endpoint="e", action="query", status=200,
                                             query="same")
    assert first["query"]["key_id"] != second["query"]["key_id"]
    assert first["query"]["hmac"] != second["query"]["hmac"]
    assert open_audit_log(settings).check().ok


def test_when_answer_recorded_then_versions_level_and_egress_scan_stored(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite3")
    versions = versions_in_force(Settings(home=tmp_path))
    assert versions["detector_version"].startswith("sha256:") and versions["policy_version"].startswith("sha256:")
    plain = record_answer(log, request_id="r1", user="u", endpoint="/v1/query", action="query", answer=_answer(),
                          query="q", versions=versions)
    scanned = record_answer(log, request_id="r2", user="u", endpoint="cli:ask", action="query", query="q",
                            answer=_answer(egress_scan={"clean": True}, policy_version="p-from-answer"),
                            versions=versions)
    assert (plain["level"], plain["detector_version"], plain["egress_scan"]) == ("internal",
                                                                                 versions["detector_version"], None)
    assert scanned["egress_scan"] == {"clean": True} and scanned["policy_version"] == "p-from-answer"
    assert log.check().ok


def test_when_refusal_recorded_then_route_refuse_with_reasons_and_versions(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite3")
    record = record_refusal(log, request_id="r", user="u", endpoint="/v1/query", action="query", status=503,
                            query="q", reasons=["local backend down"], versions={"policy_version": "p"})
    assert (record["route"], record["reasons"], record["policy_version"]) == ("refuse", ["local backend down"], "p")
    bad = record_refusal(log, request_id="r2", user="u", endpoint="/v1/chat/completions", action="chat",
                         status=422, query=None)
    assert bad["route"] is None and bad["status"] == 422


@pytest.mark.parametrize("scan, state", [
    (None, "not recorded"), ({}, "not recorded"), ({"clean": True}, "clean"), ({"clean": False}, "not clean"),
    ({"result": "clean"}, "clean"), ({"result": "findings"}, "not clean"), ({"findings": []}, "clean"),
    ({"findings": [{"entity_type": "US_SSN"}]}, "not clean"), ({"other": 1}, "not recorded"),
])
def test_when_egress_scan_varies_then_report_state(scan, state):
    assert egress_state(scan) == state


def test_when_records_mixed_then_summary_counts_routes_levels_versions_and_refusals(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite3")
    versions = {"detector_version": "d1", "policy_version": "p1"}
    common = {"user": "u", "endpoint": "/v1/query", "action": "query", "query": "q"}
    record_answer(log, request_id="s1", answer=_answer("server"), versions=versions, **common)
    record_answer(log, request_id="s2", answer=_answer("server", egress_scan={"clean": True}), versions=versions,
                  **common)
    record_answer(log, request_id="l1", answer=_answer("local", level="restricted"), versions=versions, **common)
    record_refusal(log, request_id="x1", status=503, reasons=["sensitive and local down"], **common)
    log.append(request_id="up", user="km", endpoint="/v1/documents", action="upload", status=200, target="d")
    report = build_report(log)
    req = report["requests"]
    assert (req["total"], req["answered"]) == (4, 3)
    assert req["by_route"] == {"server": 2, "local": 1, "refuse": 1}
    assert req["by_level"] == {"internal": 2, "restricted": 1, "not recorded": 1}
    assert req["by_model_version"] == {"m-server@7": 2, "m-local@7": 1}
    assert [(s["request_id"], s["egress_scan"], s["policy_version"]) for s in report["server_requests"]] == [
        ("s1", "not recorded", "p1"), ("s2", "clean", "p1")]
    assert report["refusals"]["by_reason"] == {"sensitive and local down": 1}
    assert report["other_actions"] == {"upload": 1} and report["chain"]["ok"] and report["gaps"] == []
    assert report["server_summary"]["egress_not_recorded"] == 1


def test_when_period_given_then_only_its_records_and_gaps_reported():
    records = [{"seq": s, "time": f"2026-01-0{s}", "action": "query", "status": 200, "route": "local",
                "request_id": str(s), "user": "u", "model": {}} for s in (1, 2, 5)]
    assert summarize(records)["gaps"] == [{"after": 2, "before": 5, "missing": 2}]
