"""Governance through the HTTP layer (issue 12): document management rights, same-name uploads, /readyz for
anonymous callers, key lifecycle, rate limits, audit of refused chats, the audit report endpoint.

Real app, real users/audit/index stores (hash embedder), the fake assistant of rag_api_helpers.
"""
from __future__ import annotations

import threading

import pytest
from rag_api_helpers import FakeAssistant, build_runtime, start_service

DOC_A = b"# Team A handbook\n\nThe team A offsite is in Lisbon in May.\n"
DOC_B = b"# Team B handbook\n\nThe team B offsite is in Oslo in June.\n"
DOC_AB = b"# Joint handbook\n\nTeams A and B share the Kepler-4 room on Fridays.\n"


@pytest.fixture()
def assistant():
    return FakeAssistant()


@pytest.fixture()
def svc(tmp_path, assistant):
    service = start_service(build_runtime(tmp_path, assistant))
    yield service
    service.client.__exit__(None, None, None)


def _upload(svc, user, name, data, groups=None):
    return svc.client.post("/v1/documents", files={"file": (name, data, "text/markdown")},
                           data={"groups": groups} if groups else {}, headers=svc.auth(user))


def _state(svc):
    return svc.client.app.state.rag


# --- document management: a manager acts only on documents whose groups are all theirs ------------------


def test_when_km_can_read_a_cross_group_document_then_cannot_delete_or_replace_it(svc):
    joint = _upload(svc, "admin", "joint.md", DOC_AB, groups="team-a,team-b").json()
    assert svc.client.get(f"/v1/documents/{joint['doc_id']}", headers=svc.auth("km_a")).status_code == 200
    deleted = svc.client.delete(f"/v1/documents/{joint['doc_id']}", headers=svc.auth("km_a"))
    assert deleted.status_code == 403 and "team-b" in deleted.json()["error"]["message"]
    replaced = _upload(svc, "km_a", "joint.md", b"# Joint handbook\n\nRewritten by team A alone.\n")
    assert replaced.status_code == 201 and replaced.json()["doc_id"] != joint["doc_id"]
    kept = svc.runtime.store.get_document(joint["doc_id"])
    assert kept.groups == ("team-a", "team-b") and kept.content_hash == joint["content_hash"]
    assert _state(svc).audit.tail(2)[0]["status"] == 403  # the refused delete is audited


def test_when_km_of_all_groups_manages_cross_group_document_then_allowed(svc):
    _state(svc).users.add_user("km_ab", ["team-a", "team-b"], "knowledge_manager")
    key = _state(svc).users.rotate("km_ab")
    joint = _upload(svc, "admin", "joint.md", DOC_AB, groups="team-a,team-b").json()
    again = svc.client.post("/v1/documents", files={"file": ("joint.md", DOC_AB + b"More.\n", "text/markdown")},
                            data={"groups": "team-a,team-b"}, headers={"Authorization": f"Bearer {key}"})
    assert again.status_code == 201 and again.json()["doc_id"] == joint["doc_id"]
    assert again.json()["action"] == "updated"
    deleted = svc.client.delete(f"/v1/documents/{joint['doc_id']}", headers={"Authorization": f"Bearer {key}"})
    assert deleted.status_code == 200


def test_when_same_name_file_uploaded_by_other_group_then_both_kept_and_nothing_revealed(svc):
    doc_b = _upload(svc, "km_b", "handbook.md", DOC_B).json()
    doc_a = _upload(svc, "km_a", "handbook.md", DOC_A)
    assert doc_a.status_code == 201 and doc_a.json()["doc_id"] != doc_b["doc_id"]
    assert "team-b" not in doc_a.text and "Oslo" not in doc_a.text
    store = svc.runtime.store
    assert store.get_document(doc_b["doc_id"]).groups == ("team-b",)
    assert store.get_document(doc_b["doc_id"]).content_hash == doc_b["content_hash"]
    assert store.get_document(doc_a.json()["doc_id"]).groups == ("team-a",)
    listed = svc.client.get("/v1/documents", headers=svc.auth("km_a")).json()["documents"]
    assert [d["doc_id"] for d in listed] == [doc_a.json()["doc_id"]]


def test_when_legacy_document_id_then_still_readable_and_deletable(svc):
    """Documents stored under the old id scheme (sha256 of the bare file name) keep working."""
    from indexing.ingest import doc_id_for

    result = svc.runtime.ingestor.ingest_bytes("old.md", DOC_A, ["team-a"])
    assert result.doc_id == doc_id_for("old.md")
    assert svc.client.get(f"/v1/documents/{result.doc_id}", headers=svc.auth("km_a")).status_code == 200
    assert svc.client.delete(f"/v1/documents/{result.doc_id}", headers=svc.auth("km_a")).status_code == 200


# --- /readyz: up/down for anyone, detail for admins ------------------------------------------------------


@pytest.mark.parametrize("user", [None, "emp_a", "km_a"])
def test_when_readyz_without_admin_key_then_status_only(svc, user):
    response = svc.client.get("/readyz", headers=svc.auth(user) if user else {})
    assert response.status_code == 200 and response.json() == {"status": "ready"}
    home = str(svc.runtime.settings.home)
    assert home not in response.text and "8011" not in response.text


def test_when_readyz_by_admin_then_backends_index_and_models(svc):
    body = svc.client.get("/readyz", headers=svc.auth("admin")).json()
    assert body["status"] == "ready" and body["index"]["ok"] and {m["role"] for m in body["models"]} >= {"local"}


def test_when_not_ready_then_anonymous_gets_503_status_only(svc, assistant):
    assistant.health_result = {"local": {"ok": False, "detail": "x"}}
    response = svc.client.get("/readyz")
    assert response.status_code == 503 and response.json() == {"status": "unavailable"}


# --- key lifecycle -------------------------------------------------------------------------------------


def _query(svc, headers):
    return svc.client.post("/v1/query", json={"question": "hi"}, headers=headers)


def test_when_key_revoked_then_401_on_next_request_without_restart(svc):
    assert _query(svc, svc.auth("emp_a")).status_code == 200
    _state(svc).users.revoke("emp_a")
    response = _query(svc, svc.auth("emp_a"))
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    new_key = _state(svc).users.rotate("emp_a")
    assert _query(svc, {"Authorization": f"Bearer {new_key}"}).status_code == 200
    assert _query(svc, svc.auth("emp_a")).status_code == 401


def test_when_key_expired_then_401_without_restart(svc):
    assert _query(svc, svc.auth("emp_b")).status_code == 200
    _state(svc).users.expire("emp_b")
    response = _query(svc, svc.auth("emp_b"))
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


def test_when_key_rotated_then_old_key_401(svc):
    old = svc.keys["emp_a"]
    _state(svc).users.rotate("emp_a")
    assert _query(svc, {"Authorization": f"Bearer {old}"}).status_code == 401


# --- rate limits ---------------------------------------------------------------------------------------


def test_when_burst_past_requests_per_minute_then_429_with_retry_after_and_openai_body(svc, assistant):
    _state(svc).users.set_limits("emp_a", 3, None)
    statuses = [_query(svc, svc.auth("emp_a")).status_code for _ in range(3)]
    limited = _query(svc, svc.auth("emp_a"))
    assert statuses == [200, 200, 200] and limited.status_code == 429
    error = limited.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests" and error["retryable"] is True
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert len(assistant.calls) == 3  # the limited request never reached the assistant
    assert _query(svc, svc.auth("emp_b")).status_code == 200  # limits are per key


def test_when_openai_client_rate_limited_then_rate_limit_error(svc):
    import openai

    _state(svc).users.set_limits("emp_a", 1, None)
    client = openai.OpenAI(base_url="http://testserver/v1", api_key=svc.keys["emp_a"], http_client=svc.client,
                           max_retries=0)
    client.chat.completions.create(model="rag", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="rag", messages=[{"role": "user", "content": "hi"}])


def test_when_default_rpm_in_settings_then_applied(tmp_path):
    svc = start_service(build_runtime(tmp_path, rate_limit_rpm=2))
    try:
        assert [_query(svc, svc.auth("emp_a")).status_code for _ in range(3)] == [200, 200, 429]
    finally:
        svc.client.__exit__(None, None, None)


def test_when_concurrent_generations_past_limit_then_429_and_slot_released_after(svc, assistant):
    _state(svc).users.set_limits("emp_a", None, 1)
    entered, release = threading.Event(), threading.Event()
    original = assistant.answer

    def slow_answer(*args, **kwargs):
        entered.set()
        assert release.wait(30)
        return original(*args, **kwargs)

    assistant.answer = slow_answer
    results = []
    worker = threading.Thread(target=lambda: results.append(_query(svc, svc.auth("emp_a")).status_code))
    worker.start()
    assert entered.wait(30)
    busy = _query(svc, svc.auth("emp_a"))
    release.set()
    worker.join(30)
    assert busy.status_code == 429 and busy.json()["error"]["code"] == "concurrency_limit_exceeded"
    assert "Retry-After" in busy.headers and results == [200]
    assert _query(svc, svc.auth("emp_a")).status_code == 200  # the slot came back


# --- audit of what the API refuses, and the report endpoint -----------------------------------------------


def test_when_chat_refused_because_last_message_not_users_then_audited(svc):
    body = {"model": "rag", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]}
    response = svc.client.post("/v1/chat/completions", json=body, headers=svc.auth("emp_a"))
    assert response.status_code == 422
    record = _state(svc).audit.tail(1)[0]
    assert (record["action"], record["status"], record["user"]) == ("chat", 422, "emp_a")
    assert record["request_id"] == response.headers["X-Request-ID"]


def test_when_answered_then_record_carries_detector_and_policy_versions_and_level(svc):
    response = _query(svc, svc.auth("emp_a"))
    record = _state(svc).audit.tail(1)[0]
    assert record["request_id"] == response.headers["X-Request-ID"] and record["level"] == "internal"
    assert record["detector_version"] == _state(svc).versions["detector_version"] is not None
    assert record["policy_version"] == _state(svc).versions["policy_version"] is not None


@pytest.mark.parametrize("user, status", [("admin", 200), ("km_a", 403), ("emp_a", 403), (None, 401)])
def test_when_audit_report_requested_then_admins_only(svc, user, status):
    response = svc.client.get("/v1/audit/report", headers=svc.auth(user) if user else {})
    assert response.status_code == status


def test_when_audit_report_over_period_then_counts_match_requests(svc):
    _query(svc, svc.auth("emp_a"))
    _query(svc, svc.auth("emp_b"))
    report = svc.client.get("/v1/audit/report", params={"since": "2000-01-01", "until": "2999-01-01"},
                            headers=svc.auth("admin")).json()
    assert report["requests"]["by_route"] == {"local": 2} and report["chain"]["ok"]
    empty = svc.client.get("/v1/audit/report", params={"until": "2000-01-01"}, headers=svc.auth("admin")).json()
    assert empty["records"] == 0
    bad = svc.client.get("/v1/audit/report", params={"since": "last week"}, headers=svc.auth("admin"))
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "since"
