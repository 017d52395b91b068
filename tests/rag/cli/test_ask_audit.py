"""`rag ask` audits through the same recording functions as the API, with a real request id."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.auditing import open_audit_log, versions_in_force
from rag.cli import cli
from rag.config import Settings

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).resolve().parents[3] / "data" / "corpus"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RAG_MAX_NEW_TOKENS", "8")
    monkeypatch.setenv("RAG_SEARCH_MODE", "hybrid")
    monkeypatch.setenv("RAG_INGEST_GRAPH", "0")
    monkeypatch.setenv("RAG_VLLM_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    result = CliRunner().invoke(cli, ["ingest", str(CORPUS / "public" / "travel-policy.md"), "--groups", "all"])
    assert result.exit_code == 0, result.output
    return tmp_path / "home"


def test_when_ask_answers_then_audit_record_has_its_request_id_and_versions(home):
    result = CliRunner().invoke(cli, ["ask", "What is the travel per diem?", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    settings = Settings(home=home)
    record = open_audit_log(settings).tail(1)[0]
    assert record["request_id"] == answer["request_id"] and len(record["request_id"]) == 32
    assert (record["endpoint"], record["route"], record["level"]) == ("cli:ask", answer["route"], answer["level"])
    assert record["policy_version"] == versions_in_force(settings)["policy_version"]


def test_when_ask_refused_then_audited_with_real_request_id_and_reasons(home, monkeypatch):
    monkeypatch.setenv("RAG_LLAMA_MODEL_PATH", str(home / "missing.gguf"))
    result = CliRunner().invoke(cli, ["ask", "The SSN of Jane Roe is 536-90-4399. What is her per diem?"])
    assert result.exit_code == 3, result.output
    record = open_audit_log(Settings(home=home)).tail(1)[0]
    assert (record["status"], record["route"]) == (503, "refuse") and record["reasons"]
    assert record["request_id"] != "cli" and len(record["request_id"]) == 32
    assert "536-90-4399" not in json.dumps(record)
