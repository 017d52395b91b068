"""Background uploads through the real app (real store and ingestor, hash embedder): 202 + job id, status
with progress until done, the document stored; errors reported in the job; jobs private to their owner."""
from __future__ import annotations

import time

import pytest

from rag.api.routes_documents import upload_source
from rag_api_helpers import FakeAssistant, build_runtime, start_service

DOC = b"# Team A handbook\n\n" + b"The team A offsite is in Lisbon in May. Budget codes start with TA.\n" * 40


@pytest.fixture()
def svc(tmp_path):
    service = start_service(build_runtime(tmp_path, FakeAssistant()))
    yield service
    service.client.__exit__(None, None, None)


def upload(svc, user: str, name: str, data: bytes):
    return svc.client.post("/v1/documents?background=true", files={"file": (name, data, "text/markdown")},
                           headers=svc.auth(user))


def wait(svc, user: str, url: str) -> dict:
    for _ in range(200):
        body = svc.client.get(url, headers=svc.auth(user)).json()
        if body.get("status") in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_when_upload_runs_in_background_then_202_then_status_with_progress_and_document(svc) -> None:
    response = upload(svc, "km_a", "handbook.md", DOC)
    assert response.status_code == 202 and response.json()["status_url"].startswith("/v1/documents/jobs/")
    job = wait(svc, "km_a", response.json()["status_url"])
    source = upload_source("handbook.md", ("team-a",))  # the collection of km_a's groups
    assert job["status"] == "done" and job["document"]["source"] == source
    assert job["progress"]["files_done"] == 1 and job["progress"]["chunks_done"] == job["document"]["chunk_count"] > 0
    listed = svc.client.get("/v1/documents", headers=svc.auth("km_a")).json()["documents"]
    assert [d["source"] for d in listed] == [source]


def test_when_background_upload_shares_outside_own_groups_then_403_at_once_and_no_job(svc) -> None:
    response = svc.client.post("/v1/documents?background=true", data={"groups": "team-b"},
                               files={"file": ("handbook.md", DOC, "text/markdown")}, headers=svc.auth("km_a"))
    assert response.status_code == 403 and "job_id" not in response.json()
    assert svc.client.get("/v1/documents", headers=svc.auth("km_a")).json()["documents"] == []


def test_when_background_file_is_unreadable_then_job_fails_with_the_api_error(svc) -> None:
    response = upload(svc, "km_a", "broken.pdf", b"not a pdf at all")
    job = wait(svc, "km_a", response.json()["status_url"])
    assert job["status"] == "failed" and job["error"]["status"] == 422 and "refused" in job["error"]["error"]["message"]


def test_when_another_user_asks_for_a_job_then_404(svc) -> None:
    url = upload(svc, "km_a", "handbook.md", DOC).json()["status_url"]
    wait(svc, "km_a", url)
    assert svc.client.get(url, headers=svc.auth("km_b")).status_code == 404
    assert svc.client.get(url, headers=svc.auth("admin")).status_code == 200
    assert svc.client.get("/v1/documents/jobs/nope", headers=svc.auth("km_a")).status_code == 404
