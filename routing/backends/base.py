"""The one protocol every generation backend implements, and the values that cross it.

A backend turns chat messages into text. Two exist: ``LlamaCppBackend`` ("local", in-process,
the only place sensitive prompts may go) and ``OpenAICompatBackend`` ("server", vLLM over HTTP).
Backends raise only `routing.errors.BackendError` subclasses: `BackendUnavailable` (down,
unreachable, busy, timed out; retryable) or `GenerationError` (reached, but the request or the
answer was bad).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from routing.errors import GenerationError

Message = Mapping[str, str]
ROLES = frozenset({"system", "user", "assistant"})


@dataclass(frozen=True)
class ModelInfo:
    """Which model a backend runs, for audit records and `/health`.

    Attributes:
        name: model name (GGUF file stem, or the served model name).
        version: package version or revision where known, else "".
        location: file path (local) or base URL (server).
        sha256: hash of the weights file where known (local), else None.
    """

    name: str
    version: str = ""
    location: str = ""
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Generation:
    """One finished generation.

    Attributes:
        text: the generated text (assistant message content).
        prompt_tokens: tokens of the rendered prompt, as counted by the backend.
        completion_tokens: generated tokens.
        finish_reason: "stop" (end of turn or stop string), "length" (max_tokens reached), ...
        model: name of the model that answered.
        latency_s: wall time of the call, seconds.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    model: str
    latency_s: float

    @property
    def tokens_per_s(self) -> float:
        """Completion tokens per second of wall time (0.0 when nothing was timed)."""
        return self.completion_tokens / self.latency_s if self.latency_s > 0 else 0.0


@dataclass(frozen=True)
class BackendHealth:
    """Result of a cheap liveness check. `detail` says what is wrong (or what is loaded)."""

    ok: bool
    detail: str


class GenerationStream:
    """Text deltas of a streaming generation; after exhaustion, `result` holds the `Generation`.

    Iterate it once (``for delta in stream``). `close()` (or leaving a ``with`` block) stops the
    generation early and frees the backend; `result` then stays None.
    """

    def __init__(self, deltas: Iterator[str], finish: Callable[[], Generation]) -> None:
        self._deltas = deltas
        self._finish = finish
        self.result: Generation | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            return next(self._deltas)
        except StopIteration:
            if self.result is None:
                self.result = self._finish()
            raise

    def text(self) -> str:
        """Consume the rest of the stream and return the whole text."""
        return "".join(self)

    def close(self) -> None:
        close = getattr(self._deltas, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> "GenerationStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@runtime_checkable
class GenerationBackend(Protocol):
    """A chat model behind a uniform interface.

    Attributes:
        name: "local" (in-process llama.cpp) or "server" (OpenAI-compatible HTTP server).
        model: which model answers.
        context_window: maximum prompt + completion tokens.
    """

    name: str

    @property
    def model(self) -> ModelInfo: ...

    @property
    def context_window(self) -> int: ...

    def warm_up(self) -> None:
        """Load the model / check the connection before the first request."""

    def generate(self, messages: Sequence[Message], *, max_tokens: int = 128, temperature: float = 0.0,
                 stop: Sequence[str] | None = None) -> Generation:
        """Generate one assistant reply to `messages` (dicts with "role" and "content")."""

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 128, temperature: float = 0.0,
               stop: Sequence[str] | None = None) -> GenerationStream:
        """Like `generate`, yielding text deltas as they are produced."""

    def health(self) -> BackendHealth:
        """Cheap check; never raises."""

    def count_tokens(self, text: str) -> int:
        """Number of tokens `text` takes for this backend's model."""


def validate_request(messages: Sequence[Message], max_tokens: int, temperature: float) -> list[dict[str, str]]:
    """Check a generation request and return the messages as plain dicts.

    Raises:
        GenerationError: (not retryable) naming what is wrong with the request.
    """
    if not messages:
        raise GenerationError("no messages given: pass at least one {'role': 'user', 'content': ...}")
    plain = []
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise GenerationError(f"message {i} must have role in {sorted(ROLES)} and string content")
        plain.append({"role": role, "content": content})
    if max_tokens < 1:
        raise GenerationError(f"max_tokens must be >= 1, got {max_tokens}")
    if not 0.0 <= temperature <= 2.0:
        raise GenerationError(f"temperature must be within [0, 2], got {temperature}")
    return plain


__all__ = ["ModelInfo", "Generation", "BackendHealth", "GenerationStream", "GenerationBackend",
           "Message", "validate_request"]
