"""The routing package's one exception tree. Third-party errors are mapped to these at the edge.

Every error says whether retrying the same call can help (`is_retryable`), in the manner of
langchain-core and httpx::

    RoutingError                      base; is_retryable = False
    ├── DetectionError                sensitivity detection failed or timed out (caller: treat as sensitive)
    ├── BackendError                  base for generation backends
    │   ├── BackendUnavailable        backend down / unreachable / timed out; is_retryable = True
    │   │   └── ModelFileError        model file missing, truncated or altered (sha256/size mismatch)
    │   └── GenerationError           backend answered but generation failed (bad request, bad output)
    └── RefusedError                  the policy refused to route the request (nothing was generated)
        └── SensitiveBackendDown      sensitive request while the local backend is down: never sent to the server

`RefusedError` carries the decision's human-readable `reasons` so an API can answer 503 with them.
"""
from __future__ import annotations


class RoutingError(Exception):
    """Base of every error raised by the routing package.

    Attributes:
        is_retryable: True when repeating the same call later may succeed (for example a backend
            that is starting up); False when the input or the configuration must change first.
    """

    is_retryable: bool = False

    def __init__(self, message: str, *, is_retryable: bool | None = None) -> None:
        super().__init__(message)
        if is_retryable is not None:
            self.is_retryable = is_retryable


class DetectionError(RoutingError):
    """Sensitivity detection failed or exceeded its time budget.

    Callers must treat the text as sensitive (fail closed); `routing.policy.decide` does so when
    it is given `None` instead of findings.
    """

    is_retryable = True


class BackendError(RoutingError):
    """Base for errors raised by a generation backend (`routing.backends`)."""

    def __init__(self, message: str, *, backend: str = "", is_retryable: bool | None = None) -> None:
        super().__init__(message, is_retryable=is_retryable)
        self.backend = backend


class BackendUnavailable(BackendError):
    """The backend cannot be reached, is not loaded, or did not answer in time. Retrying may help."""

    is_retryable = True


class ModelFileError(BackendUnavailable):
    """A model file is missing, truncated or altered (size or sha256 differs from the pinned one).

    Never retryable: the file must be re-fetched (`rag models fetch`) or the pin corrected first.
    """

    is_retryable = False


class GenerationError(BackendError):
    """The backend was reached but the generation failed (rejected request, malformed response)."""

    is_retryable = False


class RefusedError(RoutingError):
    """The routing policy refused the request; nothing was sent to any model.

    Attributes:
        reasons: the policy's human-readable reasons, safe to show to the user (no raw text).
    """

    is_retryable = True

    def __init__(self, message: str, *, reasons: tuple[str, ...] = (), is_retryable: bool | None = None) -> None:
        super().__init__(message, is_retryable=is_retryable)
        self.reasons = tuple(reasons)


class SensitiveBackendDown(RefusedError):
    """A sensitive request arrived while the local backend is down; it was NOT sent to the server.

    Retrying helps once the local model is back (an API answers 503).
    """

    is_retryable = True


__all__ = [
    "RoutingError",
    "DetectionError",
    "BackendError",
    "BackendUnavailable",
    "GenerationError",
    "RefusedError",
    "SensitiveBackendDown",
]
