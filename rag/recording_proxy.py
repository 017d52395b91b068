"""A recording HTTP proxy: what reached the server, proved rather than assumed.

`RecordingProxy` sits between a client (the API, a backend under test) and the real server on
127.0.0.1 and keeps every request body it received, so a test or `rag bench serve` can show what did
(and did not) reach the server. Standard library threading HTTP server plus httpx; streamed answers
(SSE) are passed through as they arrive.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer",
                        "upgrade", "proxy-authorization", "proxy-authenticate", "server", "date"})


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


__all__ = ["RecordedRequest", "RecordingProxy"]
