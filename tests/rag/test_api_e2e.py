"""End to end through the HTTP API with the real assistant and models (embedder, Presidio, llama.cpp).

The vLLM server is down here (its URL points at a closed port) unless a test asks for the `vllm` fixtures,
so answers go to the local model. Generation is kept short (max_new_tokens=16).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from process_support import free_port, running
from rag_api_helpers import USERS, Service, start_service

from rag.audit import AuditLog
from rag.config import Settings
from rag.runtime import Runtime

pytestmark = pytest.mark.slow

DOC_A = """# Project Orion handbook

Project Orion is the team A telescope programme. The Orion review board meets every Tuesday in room Kepler-4.
The Orion budget code is ORN-7731 and purchases above 5,000 euros need the board's approval.
"""
DOC_B = """# Project Vega handbook

Project Vega is the team B satellite programme. The Vega steering group meets every Thursday in room Halley-2.
The Vega budget code is VGA-4410 and travel must be booked through the Vega office.
"""
SENSITIVE_QUESTION = "Please update payroll: the SSN of Jane Roe is 536-90-4399. What is her salary?"


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    detector = Runtime(Settings(home=tmp_path_factory.mktemp("detector"))).detector
    detector.warm_up()
    return detector


def _runtime(home: Path, embedder, detector, **overrides) -> Runtime:
    settings = Settings(home=home, max_new_tokens=16, top_k=3, max_question_chars=600,
                        vllm_url=f"http://127.0.0.1:{free_port()}/v1", vllm_timeout_s=5.0,
                        **{"detection_workers": 0, **overrides})  # the shared warmed detector, in-process
    runtime = Runtime(settings)
    runtime.embedder = embedder
    runtime.detector = detector
    return runtime


def _upload(svc: Service, user: str, name: str, text: str, groups: str) -> dict:
    response = svc.client.post("/v1/documents", files={"file": (name, text.encode(), "text/markdown")},
                               data={"groups": groups, "classification": "internal"}, headers=svc.auth(user))
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def e2e(tmp_path_factory, embedder, detector):
    home = tmp_path_factory.mktemp("e2e")
    svc = start_service(_runtime(home, embedder, detector))
    docs = {"team-a": _upload(svc, "km_a", "orion.md", DOC_A, "team-a")["doc_id"],
            "team-b": _upload(svc, "km_b", "vega.md", DOC_B, "team-b")["doc_id"]}
    svc.docs = docs  # type: ignore[attr-defined]
    yield svc
    svc.client.__exit__(None, None, None)


def _own_and_other(svc, user):
    group = USERS[user][0][0]
    other = "team-b" if group == "team-a" else "team-a"
    return svc.docs[group], svc.docs[other]


def _sse(text: str) -> list:
    lines = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


# --- access control -------------------------------------------------------------------------------


@pytest.mark.parametrize("user, question", [
    ("emp_a", "When does the Vega steering group meet and what is the Vega budget code?"),
    ("emp_b", "When does the Orion review board meet and what is the Orion budget code?"),
])
def test_when_asking_about_other_groups_document_then_no_chunk_of_it_anywhere(e2e, user, question):
    own, other = _own_and_other(e2e, user)
    other_chunks = {c.chunk_id for c in e2e.runtime.store.document_chunks(other)}
    other_text = DOC_B if other == e2e.docs["team-b"] else DOC_A
    secret_code = "VGA-4410" if "VGA-4410" in other_text else "ORN-7731"
    headers = e2e.auth(user)

    query = e2e.client.post("/v1/query", json={"question": question}, headers=headers).json()
    search = e2e.client.post("/v1/search", json={"query": question, "top_k": 10}, headers=headers).json()
    chat = e2e.client.post("/v1/chat/completions", headers=headers,
                           json={"model": "rag", "messages": [{"role": "user", "content": question}]}).json()
    stream = _sse(e2e.client.post("/v1/chat/completions", headers=headers,
                                  json={"model": "rag", "stream": True,
                                        "messages": [{"role": "user", "content": question}]}).text)

    cited = [c["doc_id"] for c in query["citations"]] + [c["doc_id"] for c in chat["rag"]["citations"]]
    cited += [c["doc_id"] for e in stream[:-1] if "rag" in e for c in e["rag"]["citations"]]
    assert set(cited) <= {own} and cited, cited
    assert {h["doc_id"] for h in search["hits"]} <= {own}
    for record in e2e.client.app.state.rag.audit.tail(4):
        assert not set(record["chunk_ids"]) & other_chunks
    assert secret_code not in json.dumps([query, search, chat, stream])


@pytest.mark.parametrize("user, question", [
    ("emp_a", "When does the Vega steering group meet and what is the Vega budget code?"),
    ("emp_b", "When does the Orion review board meet and what is the Orion budget code?"),
])
def test_when_route_dry_run_then_plan_lists_only_readable_chunks_and_no_text(e2e, user, question):
    own, other = _own_and_other(e2e, user)
    own_chunks = {c.chunk_id for c in e2e.runtime.store.document_chunks(own)}
    audit_before = len(e2e.client.app.state.rag.audit.tail(1000))

    response = e2e.client.post("/v1/route", json={"question": question, "top_k": 5}, headers=e2e.auth(user))

    assert response.status_code == 200, response.text
    plan = response.json()
    assert {c["chunk_id"] for c in plan["chunks"]} <= own_chunks and plan["chunks"]
    assert {c["doc_id"] for c in plan["chunks"]} == {own} and other not in response.text
    assert plan["route"] == "local" and plan["prompt_tokens"] > 0 and plan["reasons"]  # the server is down here
    assert all(c["label"] == "internal" for c in plan["chunks"])
    assert not any(word in response.text for word in ("Tuesday", "Thursday", "VGA-4410", "ORN-7731"))
    assert len(e2e.client.app.state.rag.audit.tail(1000)) == audit_before + 1  # audited, nothing generated


def test_when_route_dry_run_of_sensitive_history_then_entity_types_and_offsets_only(e2e):
    history = [{"role": "user", "content": "My SSN is 536-90-4399."}, {"role": "assistant", "content": "Noted."}]
    response = e2e.client.post("/v1/route", headers=e2e.auth("emp_a"),
                               json={"question": "What is the Orion budget code?", "history": history})

    assert response.status_code == 200, response.text
    plan = response.json()
    ssn = [f for f in plan["findings"] if f["entity_type"] == "US_SSN"]
    assert ssn and ssn[0]["where"] == "query" and ssn[0]["end"] > ssn[0]["start"] and ssn[0]["level"] == "restricted"
    assert plan["level"] == "restricted" and plan["route"] == "local"
    assert "536-90-4399" not in response.text


@pytest.mark.parametrize("path, body", [
    ("/v1/route", {"question": "hi", "history": [{"role": "user", "content": "x"}] * 21}),
    ("/v1/chat/completions", {"model": "rag", "messages": [{"role": "user", "content": "y" * 17_000},
                                                            {"role": "user", "content": "hi"}]}),
])
def test_when_history_or_prompt_over_bounds_then_413_with_message(e2e, path, body):
    response = e2e.client.post(path, json=body, headers=e2e.auth("emp_a"))

    assert response.status_code == 413, response.text
    assert "limit" in response.json()["error"]["message"]


def test_when_route_dry_run_without_key_then_401(e2e):
    response = e2e.client.post("/v1/route", json={"question": "hi"}, headers={"Authorization": "Bearer rag_nope"})
    assert response.status_code == 401


def test_when_knowledge_manager_reads_other_groups_document_then_404(e2e):
    assert e2e.client.get(f"/v1/documents/{e2e.docs['team-b']}", headers=e2e.auth("km_a")).status_code == 404
    assert e2e.client.delete(f"/v1/documents/{e2e.docs['team-b']}", headers=e2e.auth("km_a")).status_code == 404
    assert e2e.client.get(f"/v1/documents/{e2e.docs['team-b']}", headers=e2e.auth("km_b")).status_code == 200


@pytest.mark.parametrize("user, method, path, status", [
    (None, "post", "/v1/query", 401), ("emp_a", "get", "/v1/documents", 403), ("emp_a", "delete", "/v1/documents/x", 403),
])
def test_when_unauthenticated_or_wrong_role_then_401_or_403(e2e, user, method, path, status):
    headers = e2e.auth(user) if user else {"Authorization": "Bearer rag_not-a-key"}
    kwargs = {"json": {"question": "hi"}} if method == "post" else {}
    response = getattr(e2e.client, method)(path, headers=headers, **kwargs)
    assert response.status_code == status
    if status == 401:
        assert "WWW-Authenticate" in response.headers


# --- answers, streaming, audit ---------------------------------------------------------------------


def test_when_query_answered_then_local_route_reasons_model_hash_and_latencies(e2e):
    body = e2e.client.post("/v1/query", json={"question": "Where does the Orion review board meet?"},
                           headers=e2e.auth("emp_a")).json()
    assert body["route"] == "local" and body["reasons"]
    assert body["citations"] and body["citations"][0]["doc_id"] == e2e.docs["team-a"]
    registry_local = e2e.client.app.state.rag.registry.for_role("local")
    assert body["model"]["sha256"] == registry_local.sha256
    assert {"retrieve", "generate", "total"} <= set(body["latencies"])


def test_when_streaming_then_sse_chunks_then_done_and_text_matches_audit(e2e):
    body = {"model": "rag", "stream": True, "messages": [{"role": "user", "content": "What is Project Orion?"}]}
    with e2e.client.stream("POST", "/v1/chat/completions", json=body, headers=e2e.auth("emp_a")) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _sse(response.read().decode())
    assert events[-1] == "[DONE]"
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    final = [e for e in events[:-1] if e["choices"] and e["choices"][0]["finish_reason"] == "stop"][0]
    assert final["rag"]["route"] == "local"
    record = e2e.client.app.state.rag.audit.tail(1)[0]
    assert record["request_id"] == final["rag"]["request_id"] and record["status"] == 200


def test_when_requests_made_then_audit_chain_verifies_and_tampering_is_named(e2e, tmp_path):
    e2e.client.post("/v1/query", json={"question": "What is the Orion budget code?"}, headers=e2e.auth("emp_a"))
    audit = e2e.client.app.state.rag.audit
    assert audit.verify() is None
    records = audit.tail(50)
    assert all(r["query"].get("text") is None for r in records)
    assert "Orion budget code" not in audit.path.read_bytes().decode("utf-8", "replace")
    copy_home = tmp_path / "copy"
    copy_home.mkdir()
    shutil.copy(audit.path, copy_home / "audit.sqlite3")
    import sqlite3

    with sqlite3.connect(copy_home / "audit.sqlite3") as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET user = 'mallory' WHERE seq = 2")
    assert AuditLog(copy_home / "audit.sqlite3").verify() == 2
    from rag.cli import cli

    result = CliRunner().invoke(cli, ["audit", "verify"], env={"RAG_HOME": str(copy_home)})
    assert result.exit_code == 1 and "record 2" in result.output
    intact = CliRunner().invoke(cli, ["audit", "verify", "--json"], env={"RAG_HOME": str(audit.path.parent)})
    assert intact.exit_code == 0 and json.loads(intact.output)["ok"]


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("request_kwargs, status, field", [
    ({"json": {"question": "hi", "top_k": "x"}}, 422, "top_k"),
    ({"json": {"question": "x" * 601}}, 413, "question"),
])
def test_when_query_invalid_then_error_names_field(e2e, request_kwargs, status, field):
    response = e2e.client.post("/v1/query", headers=e2e.auth("emp_a"), **request_kwargs)
    assert response.status_code == status and response.json()["error"]["param"] == field


def test_when_unsupported_upload_then_415(e2e):
    response = e2e.client.post("/v1/documents", files={"file": ("tool.exe", b"MZ\x90\x00", "application/x-msdownload")},
                               headers=e2e.auth("km_a"))
    assert response.status_code == 415


@pytest.fixture(scope="module")
def local_down(tmp_path_factory, embedder, detector):
    """A service whose local model file is missing and whose vLLM server is down."""
    home = tmp_path_factory.mktemp("local-down")
    svc = start_service(_runtime(home, embedder, detector, llama_model_path=home / "missing.gguf"))
    _upload(svc, "km_a", "orion.md", DOC_A, "team-a")
    yield svc
    svc.client.__exit__(None, None, None)


def test_when_sensitive_prompt_and_local_down_then_503_not_sent_elsewhere(local_down):
    response = local_down.client.post("/v1/query", json={"question": SENSITIVE_QUESTION}, headers=local_down.auth("emp_a"))
    error = response.json()["error"]
    assert response.status_code == 503 and error["code"] == "sensitive_local_down"
    assert "NOT sent" in error["message"] and int(response.headers["Retry-After"]) > 0
    record = local_down.client.app.state.rag.audit.tail(1)[0]
    assert record["status"] == 503 and record["route"] == "refuse"
    assert "536-90-4399" not in json.dumps(record) and "Jane" not in json.dumps(record)


def test_when_both_backends_down_then_503_and_readyz_503(local_down):
    response = local_down.client.post("/v1/query", json={"question": "What is Project Orion?"},
                                      headers=local_down.auth("emp_a"))
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert local_down.client.get("/readyz").status_code == 503


@pytest.mark.vllm
def test_when_server_up_and_local_down_then_sensitive_refused_and_server_never_sees_it(
        tmp_path, embedder, detector, recording_vllm):
    url, bodies = recording_vllm
    runtime = _runtime(tmp_path, embedder, detector, llama_model_path=tmp_path / "missing.gguf")
    runtime.settings = runtime.settings.model_copy(update={"vllm_url": url})
    svc = start_service(runtime)
    try:
        refused = svc.client.post("/v1/query", json={"question": SENSITIVE_QUESTION}, headers=svc.auth("emp_a"))
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "sensitive_local_down"
        assert not any("536-90-4399" in str(body) for body in bodies)
        served = svc.client.post("/v1/query", json={"question": "What is a telescope?"}, headers=svc.auth("emp_a"))
        assert served.status_code == 200 and served.json()["route"] == "server"
    finally:
        svc.client.__exit__(None, None, None)


# --- schema property test with the real assistant ---------------------------------------------------


def test_when_schema_inputs_against_real_assistant_then_no_server_error(e2e):
    from test_api_schema import run_schema_property_test

    assert "POST /v1/query" in run_schema_property_test(e2e, max_examples=3)


# --- the official openai client against a real `rag serve` -----------------------------------------


@pytest.fixture(scope="module")
def served(e2e, tmp_path_factory):
    """`rag serve` in a subprocess on a free port, over the e2e home (same users and index)."""
    port = free_port()
    home = e2e.runtime.settings.home
    env = {**os.environ, "RAG_HOME": str(home), "RAG_MAX_NEW_TOKENS": "16", "RAG_TOP_K": "3",
           "RAG_VLLM_URL": e2e.runtime.settings.vllm_url, "RAG_VLLM_TIMEOUT_S": "5"}
    command = [sys.executable, "-c", "from rag.cli import main; main()", "serve", "--port", str(port),
               "--log-level", "warning"]
    base = f"http://127.0.0.1:{port}"
    with running(command, f"{base}/healthz", tmp_path_factory.mktemp("serve") / "serve.log", timeout_s=180, env=env):
        yield base


def test_when_openai_client_against_rag_serve_then_completion_and_stream_work(served, e2e):
    import openai

    client = openai.OpenAI(base_url=f"{served}/v1", api_key=e2e.keys["emp_a"], max_retries=0, timeout=120)
    assert [m.id for m in client.models.list()] == ["rag"]
    question = [{"role": "user", "content": "Where does the Orion review board meet?"}]
    completion = client.chat.completions.create(model="rag", messages=question)
    assert completion.choices[0].message.content is not None and completion.usage.completion_tokens > 0
    assert {c["doc_id"] for c in completion.model_extra["rag"]["citations"]} <= {e2e.docs["team-a"]}
    chunks = list(client.chat.completions.create(model="rag", messages=question, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed.strip() and chunks[-1].choices[0].finish_reason == "stop"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{served}/v1", api_key="rag_wrong", max_retries=0).models.list()
