"""The server backend: an OpenAI-compatible chat API over HTTP (vLLM here; any such server works).

Only non-sensitive prompts may reach it (the policy decides; this module does not look at text).
httpx errors become `routing.errors` here. Retries happen only where they cannot duplicate work:
a connection that was never established, or a 502/503 answered before generation started, with
exponential backoff. A stream that breaks after it started is never retried.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from routing.backends.base import (BackendHealth, Generation, GenerationStream, Message, ModelInfo,
                                   validate_request)
from routing.backends.sse import error_message, iter_sse_data, parse_chunk
from routing.errors import BackendUnavailable, GenerationError
from routing.prompt_tokens import estimate_tokens

RETRY_STATUSES = frozenset({502, 503})
UNAVAILABLE_STATUSES = frozenset({408, 429})
DEFAULT_CONTEXT_WINDOW = 2048


class OpenAICompatBackend:
    """Chat completions from an OpenAI-compatible server (`name` = "server").

    Args:
        base_url: API root including ``/v1``, e.g. ``http://127.0.0.1:8011/v1``.
        model: served model name (vLLM ``--served-model-name``).
        api_key: sent as a bearer token when set.
        timeout_s: read timeout of one request (connecting is limited to 5 s).
        max_retries: extra attempts for connection failures and 502/503 answers.
        backoff_s: first retry delay; doubles each attempt.
        health_ttl_s: how long a `health()` answer is reused.
        health_timeout_s: timeout of the `/models` request behind `health()`.
        context_window: prompt + completion limit; None asks the server (vLLM's ``max_model_len``).
        model_version: revision to report in `model` (audit), when known.
        transport: httpx transport (tests pass ``httpx.MockTransport``).
    """

    name = "server"

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 120.0,
                 max_retries: int = 2, *, backoff_s: float = 0.5, health_ttl_s: float = 5.0,
                 health_timeout_s: float = 2.0, context_window: int | None = None, model_version: str = "",
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.model_name = model
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.health_ttl_s = health_ttl_s
        self.health_timeout_s = health_timeout_s
        self._context_window = context_window
        self._model = ModelInfo(name=model, version=model_version, location=self.base_url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url + "/", headers=headers, transport=transport,
                                    timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)))
        self._health: tuple[float, BackendHealth] | None = None
        self._server_max_len: int | None = None
        self._tokenize_supported = True

    @property
    def model(self) -> ModelInfo:
        return self._model

    @property
    def context_window(self) -> int:
        """Configured window, else the server's ``max_model_len`` (asks `/models` once), else 2048."""
        if self._context_window is not None:
            return self._context_window
        if self._server_max_len is None:
            self.health()
        return self._server_max_len or DEFAULT_CONTEXT_WINDOW

    def warm_up(self) -> None:
        """Check the server answers and serves the model. Raises `BackendUnavailable` otherwise."""
        health = self.health(fresh=True)
        if not health.ok:
            raise BackendUnavailable(health.detail, backend=self.name)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "OpenAICompatBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- health and tokens -----------------------------------------------------------------------
    def health(self, fresh: bool = False) -> BackendHealth:
        """GET /models (`health_timeout_s`), cached for `health_ttl_s`. Never raises.

        A server that was up and accepts the connection but answers `/models` too slowly is busy (a CPU
        vLLM under load), not down: it stays up, so benign requests are not pushed onto the local model.
        A request that then fails is re-routed by the caller; a refused connection is down at once.
        """
        cached = self._health
        if cached and not fresh and time.monotonic() - cached[0] < self.health_ttl_s:
            return cached[1]
        try:
            response = self._client.get("models", timeout=self.health_timeout_s)
            response.raise_for_status()
            health = self._health_from_models(response.json())
        except httpx.ReadTimeout as exc:
            was_up = bool(cached and cached[1].ok)
            health = BackendHealth(ok=was_up, detail=f"{self.base_url} busy (/models slower than "
                                   f"{self.health_timeout_s:.0f}s{'; up at the last check' if was_up else ''}): {exc}")
        except httpx.HTTPError as exc:
            health = BackendHealth(ok=False, detail=f"{self.base_url} unreachable: {type(exc).__name__}: {exc}")
        except (ValueError, KeyError, TypeError) as exc:
            health = BackendHealth(ok=False, detail=f"{self.base_url}/models answered unexpectedly: {exc}")
        self._health = (time.monotonic(), health)
        return health

    def _health_from_models(self, data: dict[str, Any]) -> BackendHealth:
        cards = {card["id"]: card for card in data["data"]}
        card = cards.get(self.model_name)
        if card is None:
            return BackendHealth(ok=False, detail=f"{self.base_url} serves {sorted(cards)}, not {self.model_name!r}")
        if isinstance(card.get("max_model_len"), int):
            self._server_max_len = card["max_model_len"]
        return BackendHealth(ok=True, detail=f"{self.model_name} at {self.base_url}")

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` from vLLM's ``POST /tokenize`` (server root, no special tokens).

        Servers without that endpoint, or an unreachable server, get `routing.prompt_tokens.estimate_tokens`
        (over-counts; remembered after a 404 so it is not asked again).
        """
        if not text:
            return 0
        if self._tokenize_supported:
            root = self.base_url.removesuffix("/v1")
            body = {"model": self.model_name, "prompt": text, "add_special_tokens": False}
            try:
                response = self._client.post(f"{root}/tokenize", json=body, timeout=5.0)
                if response.status_code == 200:
                    return int(response.json()["count"])
                self._tokenize_supported = response.status_code != 404
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                pass
        return estimate_tokens(text)

    # --- generation ------------------------------------------------------------------------------
    def generate(self, messages: Sequence[Message], *, max_tokens: int = 128, temperature: float = 0.0,
                 stop: Sequence[str] | None = None) -> Generation:
        """POST /chat/completions. See `GenerationBackend.generate`."""
        body = self._body(messages, max_tokens, temperature, stop, stream=False)
        started = time.perf_counter()
        response = self._send(body, stream=False)
        try:
            data = response.json()
            choice, usage = data["choices"][0], data.get("usage") or {}
            return Generation(text=choice["message"].get("content") or "", prompt_tokens=int(usage.get("prompt_tokens", 0)),
                              completion_tokens=int(usage.get("completion_tokens", 0)),
                              finish_reason=choice.get("finish_reason") or "stop",
                              model=data.get("model", self.model_name), latency_s=time.perf_counter() - started)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise GenerationError(f"malformed completion from {self.base_url}: {exc!r}", backend=self.name) from exc

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 128, temperature: float = 0.0,
               stop: Sequence[str] | None = None) -> GenerationStream:
        """POST /chat/completions with ``stream: true``; connects (and retries) before returning,
        so an unavailable server raises here, not in the middle of the iteration."""
        body = self._body(messages, max_tokens, temperature, stop, stream=True)
        started = time.perf_counter()
        response = self._send(body, stream=True)
        state: dict[str, Any] = {"finish": "stop", "deltas": 0, "text": [], "usage": None}

        def finish() -> Generation:
            usage = state["usage"] or {}
            return Generation(text="".join(state["text"]), prompt_tokens=int(usage.get("prompt_tokens", 0)),
                              completion_tokens=int(usage.get("completion_tokens", state["deltas"])),
                              finish_reason=state["finish"], model=self.model_name,
                              latency_s=time.perf_counter() - started)

        return GenerationStream(self._deltas(response, state), finish)

    def _deltas(self, response: httpx.Response, state: dict[str, Any]) -> Iterator[str]:
        try:
            for payload in iter_sse_data(response.iter_lines()):
                chunk = parse_chunk(payload)
                state["finish"] = chunk.finish_reason or state["finish"]
                state["usage"] = chunk.usage or state["usage"]
                if chunk.text:
                    state["deltas"] += 1
                    state["text"].append(chunk.text)
                    yield chunk.text
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"stream from {self.base_url} broke after {state['deltas']} deltas "
                                     f"({type(exc).__name__}); not retried", backend=self.name) from exc
        finally:
            response.close()

    def _body(self, messages: Sequence[Message], max_tokens: int, temperature: float,
              stop: Sequence[str] | None, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model_name, "messages": validate_request(messages, max_tokens, temperature),
                                "max_tokens": max_tokens, "temperature": temperature}
        if stop:
            body["stop"] = list(stop)
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _send(self, body: dict[str, Any], stream: bool) -> httpx.Response:
        """POST the request, retrying only what is safe; returns a 200 response or raises."""
        error: BackendUnavailable | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            request = self._client.build_request("POST", "chat/completions", json=body)
            try:
                response = self._client.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing reached the server
                error = BackendUnavailable(f"cannot connect to {self.base_url}: {exc}; is the vLLM server "
                                           "running? (`rag vllm start`)", backend=self.name)
                continue
            except httpx.TimeoutException as exc:
                raise BackendUnavailable(f"{self.base_url} did not answer in time ({type(exc).__name__})",
                                         backend=self.name) from exc
            except httpx.HTTPError as exc:
                raise BackendUnavailable(f"request to {self.base_url} failed: {type(exc).__name__}: {exc}",
                                         backend=self.name) from exc
            if response.status_code in RETRY_STATUSES:
                error = _status_error(response, self.base_url)
                continue
            if response.status_code != 200:
                raise _status_error(response, self.base_url)
            return response
        assert error is not None
        raise error


def _status_error(response: httpx.Response, base_url: str) -> BackendUnavailable | GenerationError:
    """Map a non-200 answer: 408/429/5xx -> BackendUnavailable (retryable), other 4xx -> GenerationError."""
    try:
        response.read()
        detail = error_message(response.json())
    except ValueError:
        detail = response.text[:200]
    except httpx.HTTPError:
        detail = "(body unreadable)"
    finally:
        response.close()
    message = f"{base_url} answered {response.status_code}: {detail}"
    if response.status_code in UNAVAILABLE_STATUSES or response.status_code >= 500:
        return BackendUnavailable(message, backend="server")
    return GenerationError(message, backend="server")


__all__ = ["OpenAICompatBackend"]
