"""The HTTP layer through TestClient: real app, real users/audit/metrics/index stores, a fake assistant.

What needs the real models (answers, routing, ACL through retrieval) is in test_api_e2e.py.
"""
from __future__ import annotations

import json
import sqlite3

import pytest
from rag_api_helpers import FakeAssistant, build_runtime, start_service

from routing.errors import BackendUnavailable, GenerationError, RefusedError, SensitiveBackendDown

DOC_A = b"# Team A handbook\n\nThe team A offsite is in Lisbon in May. Budget codes start with TA.\n"
DOC_B = b"# Team B handbook\n\nThe team B offsite is in Oslo in June. Budget codes start with TB.\n"


@pytest.fixture()
def assistant():
    return FakeAssistant()


@pytest.fixture()
def svc(tmp_path, assistant):
    service = start_service(build_runtime(tmp_path, assistant, max_question_chars=200))
    yield service
    service.client.__exit__(None, None, None)


def _upload(svc, user, name, data, groups=None, classification=None):
    form = {k: v for k, v in (("groups", groups), ("classification", classification)) if v is not None}
    return svc.client.post("/v1/documents", files={"file": (name, data, "application/octet-stream")}, data=form,
                           headers=svc.auth(user))


# --- identity -------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer rag_wrong"}, {"X-API-Key": "nope"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_when_key_missing_or_wrong_then_401_with_www_authenticate(svc, headers):
    response = svc.client.post("/v1/query", json={"question": "hi"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_when_x_api_key_given_then_authenticated(svc, assistant):
    response = svc.client.post("/v1/query", json={"question": "hi"}, headers={"X-API-Key": svc.keys["emp_a"]})
    assert response.status_code == 200 and response.json()["answer"] == "answer for emp_a"


def test_when_client_sends_group_headers_then_identity_still_from_key(svc, assistant):
    headers = {**svc.auth("emp_a"), "X-Groups": "team-b", "X-User": "admin", "X-Role": "admin"}
    svc.client.post("/v1/query", json={"question": "hi"}, headers=headers)
    principal = assistant.calls[-1]["principal"]
    assert (principal.name, principal.groups, principal.role) == ("emp_a", ("team-a",), "employee")


def test_when_chat_sends_user_field_then_ignored_for_identity(svc, assistant):
    body = {"model": "rag", "user": "admin", "messages": [{"role": "user", "content": "hi"}]}
    assert svc.client.post("/v1/chat/completions", json=body, headers=svc.auth("emp_b")).status_code == 200
    assert assistant.calls[-1]["principal"].groups == ("team-b",)


@pytest.mark.parametrize("method, path", [("get", "/v1/documents"), ("get", "/v1/documents/abc"),
                                          ("delete", "/v1/documents/abc")])
def test_when_employee_manages_documents_then_403(svc, method, path):
    response = getattr(svc.client, method)(path, headers=svc.auth("emp_a"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_when_employee_uploads_then_403(svc):
    assert _upload(svc, "emp_a", "x.md", DOC_A).status_code == 403


# --- query ----------------------------------------------------------------------------------------


def test_when_query_answered_then_response_has_citations_route_model_and_request_id(svc):
    response = svc.client.post("/v1/query", json={"question": "Where is the offsite?", "top_k": 3},
                               headers=svc.auth("emp_a"))
    body = response.json()
    assert response.status_code == 200
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert body["citations"][0] == {"doc_id": "d1", "source": "policy.md", "title": "Policy", "chunk_id": "c1",
                                    "snippet": "snippet"}
    assert body["route"] == "local" and body["reasons"] and body["latencies"]["total"] == 0.03
    assert body["model"]["name"] == "fake-local"


@pytest.mark.parametrize("body, field", [
    ({}, "question"),
    ({"question": 5}, "question"),
    ({"question": "hi", "top_k": 0}, "top_k"),
    ({"question": "hi", "top_k": "many"}, "top_k"),
    ({"question": "hi", "groups": ["team-b"]}, "groups"),
    ({"question": "   "}, "question"),
])
def test_when_query_field_bad_then_422_names_it(svc, body, field):
    response = svc.client.post("/v1/query", json=body, headers=svc.auth("emp_a"))
    assert response.status_code == 422
    assert response.json()["error"]["param"] == field


def test_when_body_not_json_then_422(svc):
    response = svc.client.post("/v1/query", content=b"{not json", headers={**svc.auth("emp_a"),
                                                                          "Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["error"]["type"] == "invalid_request_error"


def test_when_question_too_long_then_413_and_assistant_not_called(svc, assistant):
    response = svc.client.post("/v1/query", json={"question": "x" * 201}, headers=svc.auth("emp_a"))
    assert response.status_code == 413 and response.json()["error"]["code"] == "question_too_long"
    assert assistant.calls == []


@pytest.mark.parametrize("error, status, code", [
    (SensitiveBackendDown("local down", reasons=("query contains US_SSN (restricted) >= confidential",
                                                 "local backend down: sensitive request refused, not sent to the server")),
     503, "sensitive_local_down"),
    (RefusedError("both down", reasons=("local and server backends both down: refused",)), 503, "service_unavailable"),
    (BackendUnavailable("llama.cpp not loaded", backend="local"), 503, "service_unavailable"),
    (GenerationError("garbled", backend="server"), 502, "backend_error"),
])
def test_when_assistant_raises_routing_error_then_mapped(svc, assistant, error, status, code):
    assistant.error = error
    response = svc.client.post("/v1/query", json={"question": "hi"}, headers=svc.auth("emp_a"))
    assert response.status_code == status and response.json()["error"]["code"] == code
    if status == 503:
        assert int(response.headers["Retry-After"]) > 0


def test_when_sensitive_refused_then_503_says_not_sent_and_audit_records_refusal(svc, assistant):
    assistant.error = SensitiveBackendDown("x", reasons=("local backend down: sensitive request refused, "
                                                         "not sent to the server",))
    response = svc.client.post("/v1/query", json={"question": "SSN 536-90-4399?"}, headers=svc.auth("emp_a"))
    assert response.status_code == 503 and "NOT sent" in response.json()["error"]["message"]
    record = svc.client.app.state.rag.audit.tail(1)[0]
    assert (record["status"], record["route"], record["user"]) == (503, "refuse", "emp_a")
    assert "536-90-4399" not in json.dumps(record)
    metrics = svc.client.get("/metrics").text
    assert 'rag_routing_decisions_total{reason="refused_local_down",route="refuse"} 1.0' in metrics
    assert 'rag_refusals_total{code="sensitive_local_down"} 1.0' in metrics


def test_when_unexpected_error_then_500_without_internals(svc, assistant):
    assistant.error = RuntimeError("boom at /srv/secret/path")
    response = svc.client.post("/v1/query", json={"question": "hi"}, headers=svc.auth("emp_a"))
    assert response.status_code == 500 and "secret" not in response.text


# --- chat completions -----------------------------------------------------------------------------


def test_when_chat_then_openai_shape_with_rag_extra(svc, assistant):
    body = {"model": "rag", "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "first"},
                                         {"role": "assistant", "content": "reply"},
                                         {"role": "user", "content": [{"type": "text", "text": "second?"}]}]}
    response = svc.client.post("/v1/chat/completions", json=body, headers=svc.auth("emp_a"))
    data = response.json()
    assert response.status_code == 200 and data["object"] == "chat.completion"
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "answer for emp_a"}
    assert data["usage"] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    assert data["id"].startswith("chatcmpl-") and isinstance(data["created"], int)
    assert data["rag"]["route"] == "local" and data["rag"]["citations"][0]["chunk_id"] == "c1"
    call = assistant.calls[-1]
    assert call["question"] == "second?" and [m["role"] for m in call["history"]] == ["user", "assistant"]


@pytest.mark.parametrize("body, status, field", [
    ({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}, 404, "model"),
    ({"model": "rag", "messages": []}, 422, "messages"),
    ({"model": "rag", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]},
     422, "messages.1.role"),
    ({"model": "rag", "messages": [{"role": "wizard", "content": "hi"}]}, 422, "messages.0.role"),
])
def test_when_chat_request_bad_then_error_names_field(svc, body, status, field):
    response = svc.client.post("/v1/chat/completions", json=body, headers=svc.auth("emp_a"))
    assert response.status_code == status and response.json()["error"]["param"] == field


def _sse_events(text: str) -> list:
    lines = [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


def test_when_chat_streams_then_sse_chunks_done_and_audit_after_end(svc):
    body = {"model": "rag", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "hi"}]}
    with svc.client.stream("POST", "/v1/chat/completions", json=body, headers=svc.auth("emp_a")) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _sse_events(response.read().decode())
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hello!"
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"] == "stop"][0]
    assert finish["rag"]["citations"][0]["chunk_id"] == "c1"
    assert chunks[-1]["usage"]["total_tokens"] == 14 and chunks[-1]["choices"] == []
    record = svc.client.app.state.rag.audit.tail(1)[0]
    assert (record["action"], record["status"], record["chunk_ids"]) == ("chat", 200, ["c1"])


def test_when_stream_refused_before_start_then_plain_503(svc, assistant):
    assistant.error = SensitiveBackendDown("x")
    body = {"model": "rag", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    response = svc.client.post("/v1/chat/completions", json=body, headers=svc.auth("emp_a"))
    assert response.status_code == 503 and response.json()["error"]["code"] == "sensitive_local_down"


def test_when_stream_fails_midway_then_error_event_and_audit_status(svc, assistant):
    def broken():
        yield "partial"
        raise BackendUnavailable("llama.cpp crashed", backend="local")

    assistant.stream = lambda *a, **k: (assistant._answer("q", None, k.get("request_id"), ""), broken())
    body = {"model": "rag", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    events = _sse_events(svc.client.post("/v1/chat/completions", json=body, headers=svc.auth("emp_a")).text)
    assert events[-1]["error"]["code"] == "service_unavailable"
    assert svc.client.app.state.rag.audit.tail(1)[0]["status"] == 503


# --- documents ------------------------------------------------------------------------------------


def test_when_km_uploads_then_document_record_in_own_groups(svc):
    response = _upload(svc, "km_a", "team-a.md", DOC_A, classification="internal")
    doc = response.json()
    assert response.status_code == 201 and doc["action"] == "added"
    assert doc["groups"] == ["team-a"] and doc["declared"] == "internal" and doc["chunk_count"] >= 1
    again = _upload(svc, "km_a", "team-a.md", DOC_A, classification="internal").json()
    assert again["action"] == "unchanged" and again["doc_id"] == doc["doc_id"]


def test_when_km_lists_or_gets_then_only_documents_of_their_groups(svc):
    doc_a = _upload(svc, "km_a", "a.md", DOC_A).json()["doc_id"]
    doc_b = _upload(svc, "km_b", "b.md", DOC_B).json()["doc_id"]
    listed = svc.client.get("/v1/documents", headers=svc.auth("km_a")).json()["documents"]
    assert [d["doc_id"] for d in listed] == [doc_a]
    assert svc.client.get(f"/v1/documents/{doc_b}", headers=svc.auth("km_a")).status_code == 404
    assert svc.client.get(f"/v1/documents/{doc_a}", headers=svc.auth("km_a")).json()["title"] == "Team A handbook"
    admin_view = svc.client.get("/v1/documents", headers=svc.auth("admin")).json()["documents"]
    assert {d["doc_id"] for d in admin_view} == {doc_a, doc_b}


def test_when_km_deletes_other_groups_document_then_404_and_it_survives(svc):
    doc_b = _upload(svc, "km_b", "b.md", DOC_B).json()["doc_id"]
    assert svc.client.delete(f"/v1/documents/{doc_b}", headers=svc.auth("km_a")).status_code == 404
    assert svc.runtime.store.get_document(doc_b) is not None
    assert svc.client.delete(f"/v1/documents/{doc_b}", headers=svc.auth("km_b")).json() == {"doc_id": doc_b,
                                                                                           "deleted": True}
    assert svc.runtime.store.get_document(doc_b) is None
    assert svc.client.get(f"/v1/documents/{doc_b}", headers=svc.auth("admin")).status_code == 404


def test_when_km_uploads_same_name_as_other_groups_document_then_own_document_and_groups_kept(svc):
    doc_b = _upload(svc, "km_b", "handbook.md", DOC_B).json()["doc_id"]
    response = _upload(svc, "km_a", "handbook.md", DOC_A)
    assert response.status_code == 201 and response.json()["action"] == "added"
    assert response.json()["doc_id"] != doc_b and "team-b" not in response.text
    assert svc.runtime.store.get_document(doc_b).groups == ("team-b",)


def test_when_km_shares_with_foreign_group_then_403(svc):
    assert _upload(svc, "km_a", "a.md", DOC_A, groups="team-a,team-b").status_code == 403


def test_when_admin_uploads_with_groups_then_used(svc):
    doc = _upload(svc, "admin", "a.md", DOC_A, groups="team-a, team-b", classification="confidential").json()
    assert doc["groups"] == ["team-a", "team-b"] and doc["declared"] == "confidential"


@pytest.mark.parametrize("name, data, form, status, field", [
    ("malware.exe", b"MZ...", {}, 415, "file"),
    ("noext", b"text", {}, 415, "file"),
    ("empty.md", b"", {}, 422, "file"),
    ("a.md", DOC_A, {"classification": "top-secret"}, 422, "classification"),
    ("a.md", DOC_A, {"groups": "bad group!"}, 422, "groups"),
    ("fake.pdf", b"not really a pdf", {}, 422, "file"),
])
def test_when_upload_bad_then_error_names_field(svc, name, data, form, status, field):
    response = _upload(svc, "km_a", name, data, **form)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == field


def test_when_upload_too_large_then_413(tmp_path):
    svc = start_service(build_runtime(tmp_path, max_file_bytes=100))
    try:
        response = _upload(svc, "km_a", "big.md", b"word " * 100)
        assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"
    finally:
        svc.client.__exit__(None, None, None)


def test_when_upload_and_delete_then_audited_with_target(svc):
    doc = _upload(svc, "km_a", "a.md", DOC_A).json()["doc_id"]
    svc.client.delete(f"/v1/documents/{doc}", headers=svc.auth("km_a"))
    records = svc.client.app.state.rag.audit.tail(2)
    assert [(r["action"], r["target"], r["status"]) for r in records] == [("upload", doc, 200), ("delete", doc, 200)]


# --- audit through the API ------------------------------------------------------------------------


def test_when_queries_made_then_each_audited_redacted_and_chain_verifies(svc):
    question = "What is Jane Roe's phone number?"
    for user in ("emp_a", "emp_b"):
        svc.client.post("/v1/query", json={"question": question}, headers=svc.auth(user))
    audit = svc.client.app.state.rag.audit
    records = audit.tail(2)
    assert [r["user"] for r in records] == ["emp_a", "emp_b"]
    first = records[0]
    assert first["query"]["chars"] == len(question) and "Jane" not in json.dumps(first)
    assert first["model"]["name"] == "fake-local" and first["chunk_ids"] == ["c1"] and first["latencies"]["total"]
    assert first["request_id"] and audit.verify() is None
    with sqlite3.connect(audit.path) as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET user = 'mallory' WHERE seq = 1")
    assert audit.verify() == 1


# --- operations -----------------------------------------------------------------------------------


def test_when_healthz_then_ok_without_auth(svc):
    assert svc.client.get("/healthz").json() == {"status": "ok"}


def test_when_one_backend_up_and_index_opens_then_ready(svc):
    body = svc.client.get("/readyz", headers=svc.auth("admin")).json()
    assert body["status"] == "ready" and body["index"]["ok"] and "groups" not in body["index"]
    assert {m["role"] for m in body["models"]} == {"local", "server", "embedding", "spacy"}
    assert all(m["sha256"] for m in body["models"] if m["role"] != "server" or m["path"])


def test_when_chunk_labels_were_made_without_the_current_detector_then_readyz_counts_them_stale(svc):
    result = svc.runtime.ingestor.ingest_bytes("faq.md", b"# FAQ\n\nThe office opens at nine.", groups=["team-a"])
    assert result.action == "added"

    index = svc.client.get("/readyz", headers=svc.auth("admin")).json()["index"]  # the detail is for admins

    assert index["stale_labels"] == index["chunks"] >= 1  # ingested without a labeller: no current stamp


def test_when_no_backend_up_then_readyz_503(svc, assistant):
    assistant.health_result = {"local": {"ok": False, "detail": "x"}, "server": {"ok": False, "detail": "y"}}
    response = svc.client.get("/readyz")
    assert response.status_code == 503 and response.json()["status"] == "unavailable"


def test_when_index_cannot_open_then_readyz_503(tmp_path):
    runtime = build_runtime(tmp_path / "first")
    del runtime.__dict__["store"]
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "index").write_text("a file where the index folder should be")
    runtime.settings = runtime.settings.model_copy(update={"home": tmp_path / "broken"})
    svc = start_service(runtime)
    try:
        response = svc.client.get("/readyz", headers=svc.auth("admin"))
        assert response.status_code == 503 and response.json()["index"]["ok"] is False
    finally:
        svc.client.__exit__(None, None, None)


def test_when_metrics_scraped_then_endpoint_templates_routes_and_reasons(svc):
    _upload(svc, "km_a", "a.md", DOC_A)
    svc.client.get("/v1/documents/some-id", headers=svc.auth("km_a"))
    svc.client.post("/v1/query", json={"question": "hi"}, headers=svc.auth("emp_a"))
    text = svc.client.get("/metrics").text
    assert 'endpoint="/v1/documents/{doc_id}"' in text and "some-id" not in text
    assert 'rag_routing_decisions_total{reason="small_prompt",route="local"} 1.0' in text
    assert 'rag_stage_seconds_count{stage="retrieve"} 1.0' in text
    assert "rag_index_documents 1.0" in text


def test_when_models_listed_then_openai_list_with_registry(svc):
    body = svc.client.get("/v1/models", headers=svc.auth("emp_a")).json()
    assert body["object"] == "list" and body["data"][0]["id"] == "rag"
    assert any(entry["role"] == "local" and entry["sha256"] for entry in body["registry"])


def test_when_unknown_path_then_404_in_error_shape(svc):
    response = svc.client.get("/v1/nothing")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


# --- the official openai client (over the TestClient transport; test_api_e2e.py uses a real server) --


def _openai(svc, user):
    import openai

    return openai.OpenAI(base_url="http://testserver/v1", api_key=svc.keys[user], http_client=svc.client,
                         max_retries=0)


def test_when_openai_client_completes_then_parses_answer_usage_and_extra(svc):
    completion = _openai(svc, "emp_a").chat.completions.create(
        model="rag", messages=[{"role": "user", "content": "Where is the offsite?"}])
    assert completion.choices[0].message.content == "answer for emp_a"
    assert completion.usage.total_tokens == 14
    assert completion.model_extra["rag"]["route"] == "local"


def test_when_openai_client_streams_then_deltas_join_to_answer(svc):
    stream = _openai(svc, "emp_a").chat.completions.create(
        model="rag", stream=True, messages=[{"role": "user", "content": "hi"}])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Hello!"


def test_when_openai_client_lists_models_then_rag_listed(svc):
    assert [m.id for m in _openai(svc, "emp_a").models.list()] == ["rag"]


def test_when_openai_client_refused_then_typed_errors(svc, assistant):
    import openai

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url="http://testserver/v1", api_key="rag_bad", http_client=svc.client,
                      max_retries=0).models.list()
    assistant.error = SensitiveBackendDown("x")
    with pytest.raises(openai.InternalServerError) as info:
        _openai(svc, "emp_a").chat.completions.create(model="rag", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 503 and "NOT sent" in info.value.message


# --- search (real hybrid retrieval over the real index; hash embedder) ----------------------------


def test_when_searching_then_only_chunks_of_callers_groups(svc):
    doc_a = _upload(svc, "km_a", "a.md", DOC_A).json()["doc_id"]
    doc_b = _upload(svc, "km_b", "b.md", DOC_B).json()["doc_id"]
    for user, own, other in (("emp_a", doc_a, doc_b), ("emp_b", doc_b, doc_a)):
        for query in ("offsite budget codes", "team B Oslo June", "team A Lisbon May"):
            response = svc.client.post("/v1/search", json={"query": query, "top_k": 10}, headers=svc.auth(user))
            docs = {hit["doc_id"] for hit in response.json()["hits"]}
            assert docs == {own}, (user, query, docs)
    record = svc.client.app.state.rag.audit.tail(1)[0]
    assert record["action"] == "search" and record["chunk_ids"] and record["latencies"]["retrieve"] >= 0


def test_when_search_mode_unavailable_then_422(svc):
    response = svc.client.post("/v1/search", json={"query": "x", "mode": "graph"}, headers=svc.auth("emp_a"))
    assert response.status_code == 422 and response.json()["error"]["param"] == "mode"
