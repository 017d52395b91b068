"""All FastAPI dependencies: the service state, the runtime, the caller (from the API key only), role checks."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from rag.api.state import ServiceState
from rag.errors import AuthenticationRequired, InvalidRequest, PermissionDenied, QuestionTooLong
from rag.runtime import Runtime
from rag.types import Principal
from rag.users import UserRecord

_bearer = HTTPBearer(auto_error=False, description="An API key from `rag users add`, as a bearer token.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key from `rag users add`.")


def get_state(request: Request) -> ServiceState:
    """The app's `ServiceState`."""
    return request.app.state.rag


def get_runtime(state: Annotated[ServiceState, Depends(get_state)]) -> Runtime:
    """The app's component container."""
    return state.runtime


def request_id(request: Request) -> str:
    """The id the middleware gave this request (also sent back as ``X-Request-ID``)."""
    return request.state.request_id


def current_principal(
    request: Request,
    state: Annotated[ServiceState, Depends(get_state)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal:
    """The caller, resolved from ``Authorization: Bearer <key>`` or ``X-API-Key``.

    Identity and groups come only from the key; any client-supplied group or user header is ignored.

    Raises:
        AuthenticationRequired: no key, or an unknown one (401 with WWW-Authenticate).
    """
    key = bearer.credentials if bearer is not None else api_key
    record = state.users.record_for_key(key)
    if record is None:
        raise AuthenticationRequired("missing or unknown API key: send 'Authorization: Bearer <key>' or "
                                     "'X-API-Key: <key>' (an administrator creates keys with `rag users add`)")
    status = record.status()
    if status != "active":
        raise AuthenticationRequired(f"this API key is {status}; ask an administrator for a new one "
                                     "(`rag users rotate NAME`)")
    request.state.principal = record.principal
    request.state.user_record = record
    return record.principal


def optional_principal(
    state: Annotated[ServiceState, Depends(get_state)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal | None:
    """The caller when a valid key is sent, else None (for endpoints open to anonymous probes)."""
    return state.users.authenticate(bearer.credentials if bearer is not None else api_key)


def rate_limit(request: Request, state: Annotated[ServiceState, Depends(get_state)],
               principal: Annotated[Principal, Depends(current_principal)]) -> None:
    """Count the request against the caller's requests-per-minute limit (429 past it)."""
    record: UserRecord = request.state.user_record
    rpm = record.rate_limit_rpm if record.rate_limit_rpm is not None else state.settings.rate_limit_rpm
    state.limiter.hit(principal.name, rpm)


def generation_slot(request: Request, state: Annotated[ServiceState, Depends(get_state)],
                    principal: Annotated[Principal, Depends(current_principal)]) -> None:
    """Take one of the caller's concurrent-generation slots (429 when all are busy).

    The slot is given back by `RequestContextMiddleware` when the response (a stream included) has ended.
    """
    record: UserRecord = request.state.user_record
    limit = record.rate_limit_concurrent if record.rate_limit_concurrent is not None \
        else state.settings.rate_limit_concurrent
    request.state.release_generation = state.limiter.acquire(principal.name, limit)


def require_role(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting only callers whose role is one of `roles` (others get 403)."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise PermissionDenied(f"role {principal.role!r} may not do this; it needs one of: {', '.join(roles)}")
        return principal

    return check


def check_question(question: str, state: ServiceState) -> None:
    """Refuse a question longer than `Settings.max_question_chars` (413) or blank (422)."""
    limit = state.settings.max_question_chars
    if not question.strip():
        raise InvalidRequest("the question is empty; ask something", field="question")
    if len(question) > limit:
        raise QuestionTooLong(f"the question has {len(question)} characters; the limit is {limit}. Shorten it.",
                              field="question")


StateDep = Annotated[ServiceState, Depends(get_state)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
RequestIdDep = Annotated[str, Depends(request_id)]
DocumentManagerDep = Annotated[Principal, Depends(require_role("knowledge_manager", "admin"))]
AdminDep = Annotated[Principal, Depends(require_role("admin"))]
OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]
