"""Server-sent events as OpenAI-compatible servers (vLLM) stream chat completions. Pure functions.

The wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html): events are
separated by a blank line; ``data:`` lines of one event are joined with newlines; lines starting
with ``:`` are comments (keep-alives); the OpenAI stream ends with ``data: [DONE]``.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from routing.errors import GenerationError

DONE = "[DONE]"


@dataclass(frozen=True)
class ChunkDelta:
    """What one ``chat.completion.chunk`` contributes: text, and at the end finish reason / usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, int] | None = None


def iter_sse_data(lines: Iterable[str]) -> Iterator[str]:
    """Yield the data payload of each event in `lines` (no line endings), stopping at ``[DONE]``.

    Fields other than ``data`` (event, id, retry) are ignored, as OpenAI streams do not use them.
    """
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                payload = "\n".join(data)
                data = []
                if payload == DONE:
                    return
                yield payload
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        payload = "\n".join(data)
        if payload != DONE:
            yield payload


def parse_chunk(payload: str) -> ChunkDelta:
    """Decode one streamed chunk (JSON) into a `ChunkDelta`.

    Raises:
        GenerationError: when the payload is not a chunk, or is an error object sent mid-stream.
    """
    try:
        obj: Any = json.loads(payload)
    except ValueError as exc:
        raise GenerationError(f"server sent a malformed stream chunk: {payload[:80]!r}", backend="server") from exc
    if not isinstance(obj, dict):
        raise GenerationError(f"server sent a non-object stream chunk: {payload[:80]!r}", backend="server")
    if "error" in obj:
        raise GenerationError(f"server failed mid-stream: {error_message(obj)}", backend="server")
    usage = obj.get("usage") or None
    choices = obj.get("choices") or []
    if not choices:
        return ChunkDelta(usage=usage)
    choice = choices[0]
    delta = choice.get("delta") or {}
    return ChunkDelta(text=delta.get("content") or "", finish_reason=choice.get("finish_reason"), usage=usage)


def error_message(obj: Any) -> str:
    """The human-readable message of an OpenAI/vLLM error body (``{"error": {"message": ...}}``,
    or the older ``{"object": "error", "message": ...}``)."""
    if not isinstance(obj, dict):
        return str(obj)[:200]
    error = obj.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error if error is not None else obj.get("message", obj))


__all__ = ["ChunkDelta", "iter_sse_data", "parse_chunk", "error_message", "DONE"]
