"""The SSE pump of /v1/chat/completions: keep-alive comments while the generation is silent, and the
generation closed (backend freed) as soon as the client has gone, whichever route produced it."""
from __future__ import annotations

import asyncio
import time

from rag.api import routes_chat


class FakeRequest:
    """Reports a disconnect once `after` checks were made (None: never)."""

    def __init__(self, after: int | None = None) -> None:
        self.after, self.checks = after, 0

    async def is_disconnected(self) -> bool:
        self.checks += 1
        return self.after is not None and self.checks > self.after


def tokens(state: dict, delay: float = 0.0, count: int = 1000):
    try:
        for i in range(count):
            if delay:
                time.sleep(delay)
            state["made"] = i + 1
            yield f"data: {i}\n\n"
    finally:
        state["closed"] = True


async def collect(pump) -> list[str]:
    return [item async for item in pump]


def test_when_client_disconnects_then_generation_is_closed_after_few_tokens() -> None:
    state: dict = {}
    out = asyncio.run(collect(routes_chat._pump(tokens(state), FakeRequest(after=3))))
    assert state["closed"] and len(out) <= 3 and state["made"] < 10


def test_when_generation_is_silent_then_keep_alive_comments_flow_and_all_tokens_arrive() -> None:
    state: dict = {}
    out = asyncio.run(collect(routes_chat._pump(tokens(state, delay=0.6, count=3), FakeRequest(), keepalive_s=0.1)))
    assert [o for o in out if not o.startswith(":")] == ["data: 0\n\n", "data: 1\n\n", "data: 2\n\n"]
    assert ": keep-alive\n\n" in out and state["closed"]
