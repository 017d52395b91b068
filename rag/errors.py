"""The service's one exception tree, and the one place that maps every error to an HTTP answer.

Every error says whether retrying the same request can help (`is_retryable`), in the manner of
langchain-core and httpx, and carries the HTTP status it becomes::

    ServiceError                     500 internal_error; base, is_retryable = False
    ├── InvalidRequest               422 invalid_request (names the offending `field`)
    ├── QuestionTooLong              413 question_too_long
    ├── PayloadTooLarge              413 file_too_large
    ├── UnsupportedMediaType         415 unsupported_file_type
    ├── AuthenticationRequired       401 invalid_api_key (sends WWW-Authenticate)
    ├── PermissionDenied             403 permission_denied
    ├── NotFound                     404 not_found
    ├── Conflict                     409 conflict
    ├── RateLimited                  429 rate_limit_exceeded, is_retryable = True (sends Retry-After)
    ├── BadGateway                   502 backend_error (a backend answered, but badly)
    └── ServiceUnavailable           503 service_unavailable, is_retryable = True (sends Retry-After)
        └── SensitiveRefused         503 sensitive_local_down: the request was NOT sent elsewhere

`to_service_error(exc)` turns anything raised while serving a request — our errors, the routing
package's (`routing.errors`), the indexing package's (`indexing.errors`), FastAPI's request
validation errors, Starlette's HTTP exceptions — into a `ServiceError`; `error_body` renders it in
the OpenAI error shape (``{"error": {"message", "type", "code", "param", ...}}``) so OpenAI clients
raise their usual typed exceptions.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER_S = 5


class ServiceError(Exception):
    """Base of the service's errors.

    Attributes:
        status_code: the HTTP status this error becomes.
        code: a stable machine-readable code (``"question_too_long"``).
        is_retryable: True when repeating the same request later may succeed.
        field: the request field at fault, when there is one (``"question"``, ``"messages.0.role"``).
        reasons: human-readable reasons safe to show (a routing refusal's reasons; never raw text).
        retry_after: seconds a client should wait before retrying (sent as ``Retry-After``).
    """

    status_code: int = 500
    code: str = "internal_error"
    is_retryable: bool = False

    def __init__(self, message: str, *, field: str | None = None, reasons: Iterable[str] = (),
                 retry_after: int | None = None, is_retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reasons = tuple(reasons)
        self.retry_after = retry_after
        if is_retryable is not None:
            self.is_retryable = is_retryable

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers this error must be sent with."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


class InvalidRequest(ServiceError):
    """A field of the request is missing or malformed; `field` names it."""

    status_code = 422
    code = "invalid_request"


class QuestionTooLong(ServiceError):
    """The question is longer than the configured `max_question_chars`."""

    status_code = 413
    code = "question_too_long"


class PromptTooLarge(ServiceError):
    """The conversation history or the whole prompt is over the configured bounds (`max_history_*`, `max_prompt_chars`)."""

    status_code = 413
    code = "prompt_too_large"


class PayloadTooLarge(ServiceError):
    """An uploaded file is larger than the configured `max_file_bytes`."""

    status_code = 413
    code = "file_too_large"


class UnsupportedMediaType(ServiceError):
    """An uploaded file's type has no loader."""

    status_code = 415
    code = "unsupported_file_type"


class AuthenticationRequired(ServiceError):
    """The API key is missing or unknown."""

    status_code = 401
    code = "invalid_api_key"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="rag"'}


class PermissionDenied(ServiceError):
    """The caller's role does not allow this operation."""

    status_code = 403
    code = "permission_denied"


class NotFound(ServiceError):
    """The resource does not exist, or is outside the caller's groups (the two are not told apart)."""

    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    """The resource already exists (for example a user name)."""

    status_code = 409
    code = "conflict"


class RateLimited(ServiceError):
    """The API key made too many requests per minute, or has too many generations running."""

    status_code = 429
    code = "rate_limit_exceeded"
    is_retryable = True

    def __init__(self, message: str, *, retry_after: int = 1, code: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, retry_after=retry_after, **kwargs)
        if code:
            self.code = code


class BadGateway(ServiceError):
    """A generation backend was reached but failed to produce an answer."""

    status_code = 502
    code = "backend_error"


class ServiceUnavailable(ServiceError):
    """A backend or the index is unavailable; retrying later may help (sent with Retry-After)."""

    status_code = 503
    code = "service_unavailable"
    is_retryable = True

    def __init__(self, message: str, *, retry_after: int | None = DEFAULT_RETRY_AFTER_S, **kwargs: Any) -> None:
        super().__init__(message, retry_after=retry_after, **kwargs)


class SensitiveRefused(ServiceUnavailable):
    """A sensitive request arrived while the local model is down. It was NOT sent to any other model."""

    code = "sensitive_local_down"


SENSITIVE_REFUSED_MESSAGE = (
    "This request was judged sensitive and the local model that must answer it is unavailable. "
    "It was NOT sent to any other model. Retry later, or ask an administrator to restore the local model."
)

_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
                 409: "conflict_error", 429: "requests", 413: "invalid_request_error", 415: "invalid_request_error",
                 422: "invalid_request_error"}


def error_type(status_code: int) -> str:
    """The OpenAI-style error ``type`` for an HTTP status."""
    if status_code in _OPENAI_TYPES:
        return _OPENAI_TYPES[status_code]
    if status_code == 503:
        return "service_unavailable_error"
    return "invalid_request_error" if status_code < 500 else "server_error"


def error_body(error: ServiceError, request_id: str | None = None) -> dict[str, Any]:
    """The JSON body for `error`, in the OpenAI error shape plus `retryable`, `reasons`, `request_id`."""
    body: dict[str, Any] = {
        "message": error.message,
        "type": error_type(error.status_code),
        "code": error.code,
        "param": error.field,
        "retryable": error.is_retryable,
    }
    if error.reasons:
        body["reasons"] = list(error.reasons)
    if request_id:
        body["request_id"] = request_id
    return {"error": body}


# --- mapping ---------------------------------------------------------------------------------------


def to_service_error(exc: BaseException) -> ServiceError:
    """Map any exception raised while serving a request to a `ServiceError` (ours pass through).

    Unknown exceptions become a 500 whose message does not leak internals (they are logged).
    """
    if isinstance(exc, ServiceError):
        return exc
    for mapper in (_from_validation, _from_http_exception, _from_routing, _from_indexing):
        mapped = mapper(exc)
        if mapped is not None:
            return mapped
    logger.error("unexpected error %s", type(exc).__name__, exc_info=exc)
    return ServiceError("internal error; the server log has the details (search it for the request id)")


def validation_error(errors: Sequence[dict[str, Any]]) -> InvalidRequest:
    """An `InvalidRequest` from pydantic/FastAPI error dicts, naming the first offending field."""
    parts, first_field = [], None
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header", "form")]
        field = ".".join(loc) or "body"
        first_field = first_field or field
        parts.append(f"{field}: {err.get('msg', 'invalid value')}")
    return InvalidRequest("invalid request: " + "; ".join(parts or ["malformed body"]), field=first_field)


def _from_validation(exc: BaseException) -> ServiceError | None:
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    if isinstance(exc, RequestValidationError):
        return validation_error(list(exc.errors()))
    if isinstance(exc, ValidationError):
        return validation_error(exc.errors())
    return None


def _from_http_exception(exc: BaseException) -> ServiceError | None:
    from starlette.exceptions import HTTPException

    if not isinstance(exc, HTTPException):
        return None
    error = ServiceError(str(exc.detail))
    error.status_code = exc.status_code
    error.code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error


def _from_routing(exc: BaseException) -> ServiceError | None:
    from routing import errors as routing_errors

    if not isinstance(exc, routing_errors.RoutingError):
        return None
    reasons = tuple(getattr(exc, "reasons", ()))
    if isinstance(exc, routing_errors.SensitiveBackendDown):
        return SensitiveRefused(SENSITIVE_REFUSED_MESSAGE, reasons=reasons)
    if isinstance(exc, routing_errors.RefusedError):
        return ServiceUnavailable(f"no model can answer this request now: {exc}. Nothing was generated.",
                                  reasons=reasons)
    if isinstance(exc, routing_errors.GenerationError):
        return BadGateway(f"the {getattr(exc, 'backend', '') or 'generation'} backend failed: {exc}")
    if isinstance(exc, routing_errors.BackendUnavailable):  # down; retryable unless misconfigured
        return ServiceUnavailable(f"a backend is unavailable: {exc}", is_retryable=exc.is_retryable)
    if exc.is_retryable:  # DetectionError, anything else transient
        return ServiceUnavailable(f"a backend is unavailable: {exc}. Retry later.")
    return ServiceError(f"routing failed: {exc}")


def _from_indexing(exc: BaseException) -> ServiceError | None:
    from indexing import errors as indexing_errors

    if not isinstance(exc, indexing_errors.IndexingError):
        return None
    message = str(exc)
    if isinstance(exc, indexing_errors.UnsupportedFileType):
        return UnsupportedMediaType(message, field="file")
    if isinstance(exc, indexing_errors.FileTooLarge):
        return PayloadTooLarge(message, field="file")
    if isinstance(exc, indexing_errors.LoaderError):
        return InvalidRequest(f"the file was refused: {message}", field="file")
    if exc.is_retryable:
        return ServiceUnavailable(f"the index is busy or unavailable: {message}")
    return ServiceError(f"indexing failed: {message}")
