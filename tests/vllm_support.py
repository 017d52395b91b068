"""Test support for the real vLLM server: the session fixture's helpers and a recording proxy.

`RecordingProxy` sits between a backend under test and the real server on 127.0.0.1 and keeps
every request body it received, so a test can prove what did (and did not) reach the server.
It uses only the standard library's threading HTTP server plus httpx; streamed answers (SSE) are
passed through as they arrive.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from rag.config import Settings
from routing.backends import OpenAICompatBackend
from routing.vllm_server import VllmServer

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer",
                        "upgrade", "proxy-authorization", "proxy-authenticate", "server", "date"})


@dataclass(frozen=True)
class VllmEndpoint:
    """The server the `vllm_server` fixture provides."""

    url: str
    model: str
    max_model_len: int
    started_here: bool
    startup_s: float | None = None
    server: VllmServer | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: str


class RecordingProxy:
    """HTTP proxy on 127.0.0.1 (random port) forwarding to `upstream` and recording requests.

    Args:
        upstream: server root, e.g. ``http://127.0.0.1:8011`` (no ``/v1``).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[RecordedRequest] = []
        self.bodies: list[str] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=httpx.Timeout(300.0, connect=5.0))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="recording-proxy", daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def record(self, method: str, path: str, body: bytes) -> None:
        text = body.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(RecordedRequest(method, path, text))
            self.bodies.append(text)

    def __enter__(self) -> "RecordingProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # close-delimited bodies: streams pass through unchanged

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.record(self.command, self.path, body)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
                request = proxy._client.build_request(self.command, proxy.upstream + self.path, headers=headers,
                                                      content=body)
                try:
                    response = proxy._client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    self.send_error(502, f"upstream unreachable: {exc}")
                    return
                try:
                    self.send_response(response.status_code)
                    for key, value in response.headers.items():
                        if key.lower() not in HOP_BY_HOP:
                            self.send_header(key, value)
                    self.end_headers()
                    for chunk in response.iter_raw():
                        self.wfile.write(chunk)
                        self.wfile.flush()
                finally:
                    response.close()

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
                pass

        return Handler


def provide_vllm_server() -> Iterator[VllmEndpoint]:
    """Body of the session fixture: reuse a healthy server on the configured URL, else start one."""
    import pytest

    if os.environ.get("RAG_SKIP_VLLM") == "1":
        pytest.skip("RAG_SKIP_VLLM=1: vLLM integration tests skipped")
    settings = Settings()
    with OpenAICompatBackend(settings.vllm_url, settings.vllm_model, health_timeout_s=15) as probe:
        healthy, window = probe.health(fresh=True).ok, probe.context_window
    if healthy:
        yield VllmEndpoint(settings.vllm_url, settings.vllm_model, window, started_here=False)
        return
    server = VllmServer(venv=settings.vllm_venv, model_dir=settings.vllm_model_dir, served_name=settings.vllm_model,
                        port=settings.vllm_port, state_dir=settings.vllm_state_dir,
                        max_model_len=settings.vllm_max_model_len, kv_cache_gib=settings.vllm_kv_cache_gib)
    if server.url.rstrip("/") != settings.vllm_url.rstrip("/"):
        pytest.fail(f"RAG_VLLM_URL={settings.vllm_url} does not answer and is not the local server ({server.url})")
    if not server.python.is_file():
        pytest.fail(f"vLLM venv missing at {server.venv}: run `scripts/setup_vllm.sh` (the Makefile does), "
                    "or set RAG_SKIP_VLLM=1 to skip the vLLM tests")
    started = time.monotonic()
    if server.running_pid() is not None:  # ours, but busy or still starting: wait, reuse, leave running
        server.wait_ready(settings.vllm_start_timeout_s)
        yield VllmEndpoint(server.url, settings.vllm_model, settings.vllm_max_model_len, started_here=False)
        return
    server.start(wait=True, timeout_s=settings.vllm_start_timeout_s)
    try:
        yield VllmEndpoint(server.url, settings.vllm_model, settings.vllm_max_model_len, started_here=True,
                           startup_s=time.monotonic() - started, server=server)
    finally:
        server.stop()
