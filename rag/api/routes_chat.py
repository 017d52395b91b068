"""`POST /v1/chat/completions`: OpenAI-compatible chat over the documents, auto-routed (model "rag").

The last user message is the question; earlier user/assistant messages are history (system
messages are ignored: the assistant owns its instructions). ``stream: true`` answers with
server-sent events (``data: {chunk}`` lines, then ``data: [DONE]``). Routing details travel in the
non-standard ``rag`` field (on the completion, or on the last streamed chunk).

A stream sends an SSE comment (``: keep-alive``) whenever no token came for `KEEPALIVE_S` (a request
waiting for the local model keeps its connection), and stops the generation when the client goes away
(checked between tokens, on both routes): the backend is closed and the audit record says aborted.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from rag.api.deps import PrincipalDep, RequestIdDep, StateDep, check_question
from rag.api.recording import ABORTED_STATUS, Recorder
from rag.api.schemas import (ERROR_RESPONSES, AssistantMessage, ChatCompletion, ChatCompletionRequest, Choice,
                             CitationOut, RagInfo, Usage)
from rag.api.state import ServiceState
from rag.errors import InvalidRequest, NotFound, error_body, to_service_error
from rag.types import Answer

router = APIRouter(tags=["openai"], responses=ERROR_RESPONSES)
MODEL_ID = "rag"
KEEPALIVE_S = 10.0
DISCONNECT_CHECK_S = 0.25
_STREAM_RESPONSE = {200: {"description": "A completion, or server-sent events when `stream` is true.",
                          "content": {"text/event-stream": {}}}}


@router.post("/v1/chat/completions", response_model=ChatCompletion, responses=_STREAM_RESPONSE,
             summary="OpenAI-compatible chat completion (model 'rag')")
def chat_completions(body: ChatCompletionRequest, state: StateDep, principal: PrincipalDep,
                     request_id: RequestIdDep, request: Request) -> Any:
    with Recorder(state, request_id=request_id, principal=principal, endpoint="/v1/chat/completions",
                  action="chat") as recorder:
        question, history = _split(body)  # inside: a refused conversation is audited too
        recorder.fields["query"] = question
        if body.model != MODEL_ID:
            raise NotFound(f"model {body.model!r} not found; use {MODEL_ID!r} (auto-routed)", field="model")
        check_question(question, state)
        assistant = state.runtime.assistant
        if body.stream:
            answer, deltas = assistant.stream(question, principal, top_k=body.top_k, history=history,
                                              request_id=request_id)
            recorder.answer = answer
            recorder.defer()
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            events = _pump(_events(state, recorder, answer, deltas, include_usage), request)
            return StreamingResponse(events, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        recorder.answer = assistant.answer(question, principal, top_k=body.top_k, history=history,
                                           request_id=request_id)
    answer = recorder.answer
    return ChatCompletion(id=_completion_id(answer), created=int(time.time()), model=MODEL_ID,
                          choices=[Choice(message=AssistantMessage(content=answer.text))],
                          usage=Usage.of(answer.usage), rag=_rag_info(state, answer))


def _split(body: ChatCompletionRequest) -> tuple[str, list[dict[str, str]]]:
    last = body.messages[-1]
    if last.role != "user":
        raise InvalidRequest(f"the last message must have role 'user' (it is {last.role!r})",
                             field=f"messages.{len(body.messages) - 1}.role")
    # Only the conversation itself: the assistant owns the system prompt (client system messages are dropped).
    history = [{"role": m.role, "content": m.text()} for m in body.messages[:-1] if m.role in ("user", "assistant")]
    return last.text(), history


def _completion_id(answer: Answer) -> str:
    return f"chatcmpl-{answer.request_id}"


def _rag_info(state: ServiceState, answer: Answer) -> RagInfo:
    return RagInfo(request_id=answer.request_id, route=answer.route, reasons=list(answer.reasons),
                   level=str(answer.level), citations=[CitationOut.of(c) for c in answer.citations],
                   model=state.model_info(answer), latencies=dict(answer.latencies))


def _sse(payload: dict[str, Any] | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n"


def _chunk(answer: Answer, created: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": _completion_id(answer), "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


async def _pump(events: Iterator[str], request: Request, keepalive_s: float = KEEPALIVE_S) -> AsyncIterator[str]:
    """Drive the blocking event iterator on the thread pool; a keep-alive comment after `keepalive_s` of
    silence; close it (which closes the backend's generation) as soon as the client has gone."""
    end = object()
    pending: asyncio.Future | None = None
    quiet_since = time.monotonic()
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(run_in_threadpool(next, events, end))
            done, _ = await asyncio.wait({pending}, timeout=DISCONNECT_CHECK_S)
            if await request.is_disconnected():
                return
            if not done:
                if time.monotonic() - quiet_since >= keepalive_s:
                    quiet_since = time.monotonic()
                    yield ": keep-alive\n\n"
                continue
            item, pending = pending.result(), None
            if item is end:
                return
            quiet_since = time.monotonic()
            yield item
    finally:
        with anyio.CancelScope(shield=True):
            if pending is not None:  # the generator is busy in a thread: let it hand back its item first
                await asyncio.wait({pending})
            await run_in_threadpool(getattr(events, "close", lambda: None))


def _events(state: ServiceState, recorder: Recorder, answer: Answer, deltas: Iterator[str],
            include_usage: bool) -> Iterator[str]:
    """The SSE stream; the audit record is written when it ends (or is cut off by the client)."""
    created = int(time.time())
    try:
        yield _sse(_chunk(answer, created, {"role": "assistant", "content": ""}))
        for piece in deltas:
            if piece:
                yield _sse(_chunk(answer, created, {"content": piece}))
        last = _chunk(answer, created, {}, finish="stop")
        last["rag"] = _rag_info(state, answer).model_dump()
        yield _sse(last)
        if include_usage:
            yield _sse({**_chunk(answer, created, {}), "choices": [], "usage": Usage.of(answer.usage).model_dump()})
        recorder.finish()
        yield _sse("[DONE]")
    except Exception as exc:  # noqa: BLE001 - headers are sent: report the error in-band, as OpenAI does
        error = to_service_error(exc)
        recorder.finish(error=error)
        yield _sse(error_body(error, answer.request_id))
    finally:
        if not recorder.done:  # the client went away mid-stream
            recorder.finish(status=ABORTED_STATUS)
        close = getattr(deltas, "close", None)
        if callable(close):
            close()
