"""The local model's bounded queue through the real app and the real Assistant (small fake retriever,
detector and generation; the real `GenerationQueue`): a full queue answers a sensitive request 503 with
Retry-After and never calls the server; a benign request still goes to the server; /metrics shows the queue."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag_api_helpers import build_runtime, start_service
from routing.backends.base import BackendHealth, Generation, ModelInfo
from routing.backends.queue import GenerationQueue
from routing.policy import RoutingPolicy
from test_assistant_routing import FakeDetector, FakeRetriever


class QueuedBackend:
    """A generation backend whose calls take turns through a real `GenerationQueue`."""

    def __init__(self, name: str, queue: GenerationQueue | None = None) -> None:
        self.name, self.queue, self.calls = name, queue, 0

    @property
    def model(self) -> ModelInfo:
        return ModelInfo(name=f"{self.name}-model")

    def health(self) -> BackendHealth:
        return BackendHealth(True, "ok")

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, messages, *, max_tokens=128, temperature=0.0, stop=None) -> Generation:
        if self.queue is not None:
            with self.queue.admit():
                self.calls += 1
        else:
            self.calls += 1
        return Generation(f"answer from {self.name}", 10, 3, "stop", self.name, 0.01)


@pytest.fixture
def service(tmp_path: Path):
    queue = GenerationQueue(max_waiting=1, max_wait_s=5)
    local, server = QueuedBackend("local", queue), QueuedBackend("server")
    assistant = Assistant(FakeRetriever(), FakeDetector(), {"local": local, "server": server}, RoutingPolicy())
    runtime = build_runtime(tmp_path / "home", retry_after_s=7)
    runtime.assistant = assistant
    runtime.backends = {"local": local, "server": server}
    svc = start_service(runtime)
    yield svc, queue, local, server
    svc.client.__exit__(None, None, None)


def test_when_local_queue_is_full_then_sensitive_request_gets_503_retry_after_and_never_the_server(service) -> None:
    svc, queue, local, server = service
    running, waiting = queue.admit(), queue.admit()  # one generating, one waiting: the queue is full
    running.__enter__()
    try:
        response = svc.client.post("/v1/query", json={"question": "My SSN is 536-90-4399, can I return it?"},
                                   headers=svc.auth("emp_a"))
        server_calls_after_sensitive = server.calls
        benign = svc.client.post("/v1/query", json={"question": "How long do returns take?"},
                                 headers=svc.auth("emp_a"))
    finally:
        running.cancel()
        waiting.cancel()
    assert response.status_code == 503 and response.headers["Retry-After"] == "7"
    assert response.json()["error"]["code"] == "sensitive_local_down"
    assert server_calls_after_sensitive == 0 and local.calls == 0
    assert benign.status_code == 200 and benign.json()["route"] == "server" and server.calls == 1
    metrics = svc.client.get("/metrics").text
    assert 'rag_local_queue_rejected_total{reason="full"} 1.0' in metrics
    assert "rag_local_queue_waiting 0.0" in metrics and "rag_local_queue_running 0.0" in metrics


def test_when_queue_has_room_then_sensitive_requests_wait_their_turn_and_succeed(service) -> None:
    svc, queue, local, _ = service
    holder = queue.admit()
    holder.__enter__()
    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(svc.client.post(
        "/v1/query", json={"question": "My SSN is 536-90-4399?"}, headers=svc.auth("emp_a")).status_code))
    thread.start()
    thread.join(0.3)
    assert thread.is_alive()  # waiting for the model
    holder.cancel()
    thread.join(5)
    assert results == [200] and local.calls == 1
    waits = re.search(r"^rag_local_queue_wait_seconds_count (\S+)$", svc.client.get("/metrics").text, re.M)
    assert waits is not None and float(waits.group(1)) >= 2  # the holder's turn and the request's
