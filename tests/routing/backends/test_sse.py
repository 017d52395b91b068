"""SSE parsing and stream-chunk decoding (pure)."""
import json

import pytest

from routing.backends.sse import ChunkDelta, error_message, iter_sse_data, parse_chunk
from routing.errors import GenerationError


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["data: a", "", "data: b", ""], ["a", "b"]),
        (["data: a\r\n", "\r\n", "data: [DONE]", "", "data: after-done", ""], ["a"]),
        ([": keep-alive", "", "data: x", ""], ["x"]),
        (["event: message", "id: 7", "data: x", ""], ["x"]),
        (["data: line1", "data: line2", ""], ["line1\nline2"]),
        (["data:nospace", ""], ["nospace"]),
        (["data: tail-without-blank-line"], ["tail-without-blank-line"]),
        (["", "", "data: x", "", ""], ["x"]),
        (["data: [DONE]"], []),
    ],
)
def test_when_sse_lines_then_data_payloads_until_done(lines, expected):
    assert list(iter_sse_data(lines)) == expected


def _chunk(content=None, finish=None, usage=None, choices=True):
    obj = {"object": "chat.completion.chunk"}
    obj["choices"] = [{"index": 0, "delta": {} if content is None else {"content": content},
                       "finish_reason": finish}] if choices else []
    if usage is not None:
        obj["usage"] = usage
    return json.dumps(obj)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (_chunk("Hel"), ChunkDelta(text="Hel")),
        (_chunk(None, "stop"), ChunkDelta(finish_reason="stop")),
        (_chunk("", "length"), ChunkDelta(finish_reason="length")),
        (_chunk(choices=False, usage={"prompt_tokens": 3, "completion_tokens": 2}),
         ChunkDelta(usage={"prompt_tokens": 3, "completion_tokens": 2})),
        (json.dumps({"choices": [{"delta": {"role": "assistant"}}]}), ChunkDelta()),
    ],
)
def test_when_chunk_then_text_finish_and_usage_extracted(payload, expected):
    assert parse_chunk(payload) == expected


@pytest.mark.parametrize(
    ("payload", "message_part"),
    [
        ("{not json", "malformed"),
        ("[1, 2]", "non-object"),
        (json.dumps({"error": {"message": "engine died", "code": 500}}), "engine died"),
        (json.dumps({"object": "error", "error": "boom"}), "boom"),
    ],
)
def test_when_chunk_is_bad_or_error_then_generation_error(payload, message_part):
    with pytest.raises(GenerationError, match=message_part) as info:
        parse_chunk(payload)
    assert info.value.is_retryable is False


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"message": "model not found"}}, "model not found"),
        ({"object": "error", "message": "too long"}, "too long"),
        ({"detail": "x"}, "{'detail': 'x'}"),
        (["list"], "['list']"),
    ],
)
def test_when_error_body_then_message_extracted(body, expected):
    assert error_message(body) == expected
