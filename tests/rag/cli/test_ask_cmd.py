"""`rag ask` end to end through click on real parts: embedder, FAISS on disk, Presidio, llama.cpp, vLLM."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import cli

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).resolve().parents[3] / "data" / "corpus"


@pytest.fixture
def home(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    for rel in ("public/returns-refund-policy.md", "public/travel-policy.md", "hr/sick-leave-q3-2024.txt"):
        shutil.copy(CORPUS / rel, docs / Path(rel).name)
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RAG_MAX_NEW_TOKENS", "24")
    monkeypatch.setenv("RAG_SEARCH_MODE", "hybrid")
    # Labels are the declared classifications here: these tests are about `rag ask` (routing on the labels,
    # server down, ACL, dry run), not about what detection finds in the documents (tests/indexing, tests/routing).
    monkeypatch.setenv("RAG_INGEST_DETECT", "false")
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(docs / "returns-refund-policy.md"), str(docs / "travel-policy.md"),
                                 "--groups", "all", "--classification", "public"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["ingest", str(docs / "sick-leave-q3-2024.txt"), "--groups", "hr",
                                 "--classification", "confidential"])
    assert result.exit_code == 0, result.output
    return runner


def _ask(runner, *args):
    result = runner.invoke(cli, ["ask", *args, "--json"])
    return result, (json.loads(result.output) if result.exit_code == 0 else None)


def test_when_server_down_then_benign_question_answered_locally_with_citations(home, monkeypatch):
    monkeypatch.setenv("RAG_VLLM_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    result, answer = _ask(home, "How many days do customers have to return an item?", "--groups", "all")

    assert result.exit_code == 0, result.output
    assert answer["route"] == "local" and answer["text"]
    assert {Path(c["source"]).name for c in answer["citations"]} <= {"returns-refund-policy.md", "travel-policy.md"}
    assert answer["model"]["name"].startswith("SmolLM2")
    assert any("server backend down" in r for r in answer["reasons"]), answer["reasons"]


def test_when_reader_lacks_group_then_confidential_document_is_never_cited(home, monkeypatch):
    monkeypatch.setenv("RAG_VLLM_URL", "http://127.0.0.1:9/v1")
    result, answer = _ask(home, "Who was on sick leave in the third quarter?", "--groups", "all")

    assert result.exit_code == 0, result.output
    assert "sick-leave-q3-2024.txt" not in {Path(c["source"]).name for c in answer["citations"]}


def test_when_question_is_empty_then_exit_2_with_message(home):
    result = home.invoke(cli, ["ask", "   "])
    assert result.exit_code == 2 and "empty" in result.output


@pytest.mark.vllm
def test_when_server_up_then_benign_question_goes_to_vllm_and_sensitive_stays_local(home, monkeypatch, vllm_server):
    monkeypatch.setenv("RAG_VLLM_URL", vllm_server.url)
    monkeypatch.setenv("RAG_VLLM_MODEL", vllm_server.model)
    result, answer = _ask(home, "Who was on sick leave in the third quarter?", "--groups", "all,hr")
    assert result.exit_code == 0, result.output
    assert answer["route"] == "local"  # the confidential chunk's stored label keeps it local
    assert "sick-leave-q3-2024.txt" in {Path(c["source"]).name for c in answer["citations"]}

    result, answer = _ask(home, "How many days do customers have to return an item?", "--groups", "all")
    assert result.exit_code == 0, result.output
    assert answer["route"] == "server", answer["reasons"]  # a public policy page: nothing sensitive
    assert answer["text"] and answer["model"]["name"] == vllm_server.model


def test_when_dry_run_then_plan_shows_route_labels_and_tokens_without_text(home, monkeypatch):
    monkeypatch.setenv("RAG_VLLM_URL", "http://127.0.0.1:9/v1")
    question = "Who was on sick leave in the third quarter? My SSN is 536-90-4399."
    result = home.invoke(cli, ["ask", question, "--groups", "all", "--dry-run", "--json"])

    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["route"] == "local" and plan["level"] == "restricted" and plan["prompt_tokens"] > 0
    docs = json.loads(home.invoke(cli, ["docs", "list", "--json"]).output)
    hr_doc = next(d["doc_id"] for d in docs if d["source"].endswith("sick-leave-q3-2024.txt"))
    assert plan["chunks"] and hr_doc not in {c["doc_id"] for c in plan["chunks"]}  # hr chunks not readable
    assert any(f["entity_type"] == "US_SSN" and f["where"] == "query" for f in plan["findings"])
    assert "536-90-4399" not in result.output and "30 days" not in result.output
    assert "text" not in plan  # nothing was generated

    readable = home.invoke(cli, ["ask", "Who was on sick leave in the third quarter?", "--groups", "all,hr",
                                 "--dry-run"])
    assert readable.exit_code == 0, readable.output
    assert "route: local" in readable.output and "(confidential)" in readable.output
