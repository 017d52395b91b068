"""OpenAICompatBackend's error mapping, retry rules, streaming and health cache, against a fake
HTTP server (httpx.MockTransport). The real vLLM server is exercised in test_vllm_integration.py."""
from __future__ import annotations

import json

import httpx
import pytest

from routing.backends import GenerationBackend, OpenAICompatBackend
from routing.errors import BackendUnavailable, GenerationError
from routing.prompt_tokens import estimate_tokens

URL = "http://vllm.test/v1"
MODEL = "smollm2"
MESSAGES = [{"role": "user", "content": "Hi"}]


def completion(text="Hello!", finish="stop", prompt_tokens=5, completion_tokens=2):
    return {"model": MODEL, "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                         "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}


def sse(*objects, done=True) -> bytes:
    events = [f"data: {json.dumps(o)}\n\n" for o in objects] + (["data: [DONE]\n\n"] if done else [])
    return "".join(events).encode()


def delta(text=None, finish=None):
    return {"choices": [{"index": 0, "delta": {"content": text} if text else {}, "finish_reason": finish}]}


class Script:
    """A fake server answering each request with the next scripted step (a response or an exception)."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        return step(request) if callable(step) else step


def backend(script: Script, **kwargs) -> OpenAICompatBackend:
    kwargs.setdefault("backoff_s", 0.0)
    return OpenAICompatBackend(URL, MODEL, transport=httpx.MockTransport(script), **kwargs)


def ok(body=None):
    return httpx.Response(200, json=body if body is not None else completion())


def test_when_constructed_then_it_satisfies_the_backend_protocol():
    assert isinstance(backend(Script(ok())), GenerationBackend)


def test_when_server_answers_then_generation_carries_text_usage_and_model():
    script = Script(ok(completion("Paris.", prompt_tokens=11, completion_tokens=3)))
    result = backend(script).generate(MESSAGES, max_tokens=7, temperature=0.0, stop=["\n"])
    assert (result.text, result.prompt_tokens, result.completion_tokens, result.finish_reason, result.model) == \
        ("Paris.", 11, 3, "stop", MODEL)
    sent = json.loads(script.requests[0].content)
    assert sent == {"model": MODEL, "messages": MESSAGES, "max_tokens": 7, "temperature": 0.0, "stop": ["\n"]}
    assert script.requests[0].url == httpx.URL(URL + "/chat/completions")


@pytest.mark.parametrize(
    ("steps", "expected_error", "retryable", "attempts"),
    [
        # never connected: nothing was sent, so retrying is safe
        ([httpx.ConnectError("refused"), ok()], None, None, 2),
        ([httpx.ConnectError("refused")], BackendUnavailable, True, 3),
        ([httpx.ConnectTimeout("slow")], BackendUnavailable, True, 3),
        # the server says it is not ready yet: retried with backoff
        ([httpx.Response(503, json={"error": {"message": "loading"}}), ok()], None, None, 2),
        ([httpx.Response(502, text="bad gateway")], BackendUnavailable, True, 3),
        # the request may have reached the model: never retried
        ([httpx.ReadTimeout("no answer")], BackendUnavailable, True, 1),
        ([httpx.RemoteProtocolError("dropped")], BackendUnavailable, True, 1),
        ([httpx.Response(500, json={"error": {"message": "engine died"}})], BackendUnavailable, True, 1),
        ([httpx.Response(429, json={"error": {"message": "busy"}})], BackendUnavailable, True, 1),
        # our request is wrong: retrying cannot help
        ([httpx.Response(400, json={"error": {"message": "maximum context length"}})], GenerationError, False, 1),
        ([httpx.Response(404, json={"error": {"message": "model not found"}})], GenerationError, False, 1),
        ([httpx.Response(200, text="not json")], GenerationError, False, 1),
        ([httpx.Response(200, json={"choices": []})], GenerationError, False, 1),
    ],
)
def test_when_server_fails_then_mapped_error_and_only_safe_retries(steps, expected_error, retryable, attempts):
    script = Script(*steps)
    server = backend(script, max_retries=2)
    if expected_error is None:
        assert server.generate(MESSAGES).text == "Hello!"
    else:
        with pytest.raises(expected_error) as info:
            server.generate(MESSAGES)
        assert info.value.is_retryable is retryable
        assert info.value.backend == "server"
    assert len(script.requests) == attempts


def test_when_server_rejects_then_its_message_is_in_the_error():
    script = Script(httpx.Response(400, json={"object": "error", "message": "This model's maximum context length is 8192"}))
    with pytest.raises(GenerationError, match="400: This model's maximum context length is 8192"):
        backend(script).generate(MESSAGES)


@pytest.mark.parametrize(
    "messages",
    [[], [{"role": "robot", "content": "x"}], [{"role": "user", "content": None}], [{"content": "no role"}]],
)
def test_when_messages_invalid_then_generation_error_before_any_request(messages):
    script = Script(ok())
    with pytest.raises(GenerationError) as info:
        backend(script).generate(messages)
    assert info.value.is_retryable is False
    assert script.requests == []


def test_when_streaming_then_deltas_then_result_with_server_usage():
    body = sse({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]},
               delta("Hel"), delta("lo"), delta(finish="length"),
               {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}})
    script = Script(httpx.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    stream = backend(script).stream(MESSAGES, max_tokens=2)
    assert list(stream) == ["Hel", "lo"]
    assert (stream.result.text, stream.result.prompt_tokens, stream.result.completion_tokens,
            stream.result.finish_reason) == ("Hello", 9, 2, "length")
    sent = json.loads(script.requests[0].content)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_when_stream_has_no_usage_then_deltas_are_counted():
    script = Script(httpx.Response(200, content=sse(delta("a"), delta("b"), delta("c", "stop"))))
    stream = backend(script).stream(MESSAGES)
    assert stream.text() == "abc"
    assert stream.result.completion_tokens == 3


class BreakingStream(httpx.SyncByteStream):
    def __iter__(self):
        yield sse(delta("partial"), done=False)
        raise httpx.ReadError("connection reset")


def test_when_stream_breaks_midway_then_backend_unavailable_and_no_retry():
    script = Script(httpx.Response(200, stream=BreakingStream()), ok())
    stream = backend(script, max_retries=2).stream(MESSAGES)
    assert next(stream) == "partial"
    with pytest.raises(BackendUnavailable, match="broke after 1 deltas"):
        next(stream)
    assert len(script.requests) == 1


def test_when_stream_server_unreachable_then_error_at_call_not_iteration():
    script = Script(httpx.ConnectError("refused"))
    with pytest.raises(BackendUnavailable):
        backend(script, max_retries=1).stream(MESSAGES)
    assert len(script.requests) == 2


def test_when_error_arrives_inside_stream_then_generation_error():
    script = Script(httpx.Response(200, content=sse(delta("x"), {"error": {"message": "engine failed"}})))
    with pytest.raises(GenerationError, match="engine failed"):
        backend(script).stream(MESSAGES).text()


def models(*ids, max_len=8192):
    return httpx.Response(200, json={"object": "list", "data": [{"id": i, "max_model_len": max_len} for i in ids]})


@pytest.mark.parametrize(
    ("step", "ok_expected", "detail_part"),
    [
        (models(MODEL), True, MODEL),
        (models("other-model"), False, "not 'smollm2'"),
        (httpx.ConnectError("refused"), False, "unreachable"),
        (httpx.Response(500, text="oops"), False, "unreachable"),
        (httpx.Response(200, json={"unexpected": True}), False, "unexpectedly"),
    ],
)
def test_when_health_checked_then_never_raises(step, ok_expected, detail_part):
    health = backend(Script(step)).health()
    assert health.ok is ok_expected
    assert detail_part in health.detail


def test_when_health_checked_twice_within_ttl_then_server_asked_once():
    script = Script(models(MODEL))
    server = backend(script, health_ttl_s=60)
    assert server.health().ok and server.health().ok
    assert len(script.requests) == 1
    assert server.health(fresh=True).ok and len(script.requests) == 2


@pytest.mark.parametrize(("first", "then", "ok_expected"), [
    (models(MODEL), httpx.ReadTimeout("slow"), True),               # up, then busy: stays up
    (httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), False),  # never seen up: not up
    (models(MODEL), httpx.ConnectError("refused"), False),          # refused: down at once
])
def test_when_health_probe_times_out_then_a_server_seen_up_counts_as_busy_not_down(first, then, ok_expected):
    server = backend(Script(first, then), health_ttl_s=0)
    server.health()

    assert server.health().ok is ok_expected


def test_when_context_window_not_configured_then_taken_from_server():
    assert backend(Script(models(MODEL, max_len=4096))).context_window == 4096
    assert backend(Script(httpx.ConnectError("x")), context_window=1000).context_window == 1000
    assert backend(Script(httpx.ConnectError("x"))).context_window == 2048


def test_when_tokenize_endpoint_exists_then_its_count_is_used():
    script = Script(httpx.Response(200, json={"count": 4, "max_model_len": 8192, "tokens": [1, 2, 3, 4]}))
    assert backend(script).count_tokens("some text here") == 4
    assert script.requests[0].url == httpx.URL("http://vllm.test/tokenize")
    assert json.loads(script.requests[0].content)["add_special_tokens"] is False


def test_when_tokenize_endpoint_missing_then_approximation_and_not_asked_again():
    script = Script(httpx.Response(404, json={"detail": "Not Found"}))
    server = backend(script)
    text = "twelve bytes"
    assert server.count_tokens(text) == estimate_tokens(text) == 3
    assert server.count_tokens(text) == 3
    assert len(script.requests) == 1


def test_when_api_key_given_then_sent_as_bearer_token():
    script = Script(ok())
    backend(script, api_key="s3cret").generate(MESSAGES)
    assert script.requests[0].headers["authorization"] == "Bearer s3cret"
