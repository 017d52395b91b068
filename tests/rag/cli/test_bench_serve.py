"""`rag bench serve`'s own accounting: what the recording proxy saw, and whether the API-vs-direct run
compared like with like. The proxy is the real one, in front of a small stdlib upstream."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from rag.cli import bench_serve
from rag.recording_proxy import RecordingProxy


class _Upstream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"usage": {"completion_tokens": 3}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _chat(root: str, question: str) -> None:
    payload = {"model": "m", "messages": [{"role": "system", "content": "Context: ..."},
                                          {"role": "user", "content": question}]}
    assert httpx.post(f"{root}/v1/chat/completions", json=payload, timeout=10).status_code == 200


def test_when_a_sensitive_question_passes_the_proxy_then_it_is_counted(upstream: str) -> None:
    with RecordingProxy(upstream) as proxy:
        _chat(proxy.root, bench_serve.BENIGN[0])
        _chat(proxy.root, bench_serve.SENSITIVE[1])
        httpx.get(f"{proxy.root}/v1/models", timeout=10)
        counts = bench_serve._proxy_counts(proxy)
    assert counts == {"chat_requests": 2, "sensitive_requests": 1}


def test_when_only_benign_questions_pass_then_no_sensitive_request_is_counted(upstream: str) -> None:
    with RecordingProxy(upstream) as proxy:
        for question in bench_serve.BENIGN:
            _chat(proxy.root, question)
        assert bench_serve._proxy_counts(proxy) == {"chat_requests": len(bench_serve.BENIGN), "sensitive_requests": 0}


@pytest.mark.parametrize(("url", "root"), [("http://127.0.0.1:8011/v1", "http://127.0.0.1:8011"),
                                           ("http://127.0.0.1:8011/v1/", "http://127.0.0.1:8011"),
                                           ("http://h:1", "http://h:1")])
def test_server_root_strips_the_api_prefix(url: str, root: str) -> None:
    assert bench_serve._server_root(url) == root


def test_when_a_benign_request_is_answered_locally_then_the_summary_says_why() -> None:
    rows = [{"question": "q", "status": 200, "route": "server", "tokens": 5, "seconds": 1.0},
            {"question": "q", "status": 200, "route": "local", "tokens": 4, "seconds": 2.0,
             "reason": "egress scan failed: server barred"}]
    summary = bench_serve._summary(rows, wall=2.0)
    assert summary["routes"] == {"local": 1, "server": 1}
    assert summary["not_server_reasons"] == {"egress scan failed: server barred": 1}
    assert json.loads(json.dumps(summary))["completion_tokens"] == 9
