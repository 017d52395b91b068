"""Test support for the real vLLM server: the session fixture's helpers (the recording proxy lives in
`rag.recording_proxy`, which `rag bench serve` uses too)."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from rag.config import Settings
from rag.recording_proxy import RecordingProxy
from routing.backends import OpenAICompatBackend
from routing.vllm_server import VllmServer

__all__ = ["RecordingProxy", "VllmEndpoint", "provide_vllm_server"]


@dataclass(frozen=True)
class VllmEndpoint:
    """The server the `vllm_server` fixture provides."""

    url: str
    model: str
    max_model_len: int
    started_here: bool
    startup_s: float | None = None
    server: VllmServer | None = field(default=None, repr=False)


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
