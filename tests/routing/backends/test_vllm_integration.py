"""OpenAICompatBackend against the REAL vLLM server (session fixture), through the recording proxy."""
from __future__ import annotations

import json

import pytest

from routing.backends import LlamaCppBackend, OpenAICompatBackend
from routing.errors import BackendUnavailable, GenerationError

pytestmark = pytest.mark.vllm

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def proxied(recording_vllm, vllm_server):
    url, bodies = recording_vllm
    with OpenAICompatBackend(url, vllm_server.model, timeout_s=120, backoff_s=0.2) as backend:
        yield backend, bodies


def chat_bodies(bodies: list[str]) -> list[dict]:
    return [json.loads(b) for b in bodies if b and "messages" in json.loads(b)]


def test_when_generating_then_answer_usage_and_exactly_our_request_recorded(proxied, vllm_server):
    backend, bodies = proxied
    result = backend.generate(QUESTION, max_tokens=32)
    assert "Paris" in result.text
    assert result.prompt_tokens > 10 and 0 < result.completion_tokens <= 32
    assert result.finish_reason in ("stop", "length") and result.model == vllm_server.model
    sent = chat_bodies(bodies)
    assert len(sent) == 1 and sent[0]["messages"] == QUESTION and sent[0]["max_tokens"] == 32


def test_when_streaming_then_deltas_join_to_text_and_usage_reported(proxied):
    backend, bodies = proxied
    stream = backend.stream(QUESTION, max_tokens=32)
    deltas = list(stream)
    assert len(deltas) > 1 and "".join(deltas) == stream.result.text
    assert stream.result.completion_tokens > 0 and stream.result.prompt_tokens > 10
    assert chat_bodies(bodies)[0]["stream"] is True


def test_when_stream_and_generate_at_temperature_zero_then_same_text(proxied):
    backend, _ = proxied
    assert backend.stream(QUESTION, max_tokens=24).text() == backend.generate(QUESTION, max_tokens=24).text


def test_when_health_checked_then_ok_and_context_window_from_server(proxied, vllm_server):
    backend, _ = proxied
    assert backend.health().ok
    assert backend.context_window == vllm_server.max_model_len


@pytest.mark.slow
@pytest.mark.parametrize("text", ["hello world", "Employees may return equipment within 30 days.", "<|im_end|>"])
def test_when_counting_tokens_then_server_agrees_with_local_tokenizer(proxied, text):
    """Same GGUF on both sides: the converted HF tokenizer must count like llama.cpp."""
    backend, bodies = proxied
    assert backend.count_tokens(text) == LlamaCppBackend().count_tokens(text)
    assert any('"prompt"' in b for b in bodies)  # it used /tokenize, not the approximation


def test_when_model_name_unknown_then_generation_error_not_retryable(recording_vllm):
    url, _ = recording_vllm
    with OpenAICompatBackend(url, "no-such-model", backoff_s=0) as backend:
        assert backend.health().ok is False
        with pytest.raises(GenerationError, match="404") as info:
            backend.generate(QUESTION, max_tokens=4)
    assert info.value.is_retryable is False


def test_when_prompt_longer_than_server_context_then_generation_error(proxied, vllm_server):
    backend, _ = proxied
    huge = [{"role": "user", "content": "data " * (vllm_server.max_model_len + 100)}]
    with pytest.raises(GenerationError, match="400") as info:
        backend.generate(huge, max_tokens=4)
    assert info.value.is_retryable is False


def test_when_server_port_closed_then_backend_unavailable_after_retries(vllm_server):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with OpenAICompatBackend(f"http://127.0.0.1:{port}/v1", vllm_server.model, max_retries=1, backoff_s=0) as backend:
        assert backend.health().ok is False
        with pytest.raises(BackendUnavailable) as info:
            backend.generate(QUESTION)
    assert info.value.is_retryable is True


def test_when_server_started_by_fixture_then_status_reports_it(vllm_server):
    if not vllm_server.started_here:
        pytest.skip("server was already running; the fixture reused it")
    status = vllm_server.server.status()
    assert status.running and status.healthy and status.rss_mb > 500
