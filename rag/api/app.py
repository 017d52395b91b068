"""The FastAPI app factory: `create_app(settings)` wires settings, runtime, registry, routes and errors.

Models load once, at start-up, in the lifespan (`ServiceState.warm_up`); `Settings.api_warm_up=False`
defers them to the first request (tests of the HTTP layer).
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexing.errors import IndexingError
from rag.api import routes_audit, routes_chat, routes_documents, routes_health, routes_query, routes_search
from rag.api.deps import generation_slot, rate_limit
from rag.api.state import ServiceState
from rag.config import Settings
from rag.errors import PayloadTooLarge, ServiceError, ServiceUnavailable, error_body, to_service_error
from rag.registry import ModelRegistry, active_profile
from rag.runtime import Runtime
from routing.errors import RoutingError

logger = logging.getLogger("rag.api")
_BODY_SLACK_BYTES = 1024 * 1024  # multipart framing on top of the largest allowed file


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the HTTP service.

    Args:
        settings: configuration (default: from the environment); ignored when `runtime` is given.
        runtime: an existing component container (tests may pre-build parts of it); default: a new one.

    Model locations not set explicitly in `settings` come from the registry file
    (`Settings.models_registry_path`, see `rag.registry`).
    """
    if runtime is None:
        runtime = Runtime(settings or Settings())
    registry = ModelRegistry.load(runtime.settings.models_registry_path,
                                  active_profile(runtime.settings)).reconcile(runtime.settings)
    if not _components_built(runtime):
        runtime.settings = registry.apply_to(runtime.settings)
    state = ServiceState(runtime, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(state.warm_up)
        try:
            yield
        finally:
            state.close()

    app = FastAPI(title="rag", version="0.1.0", lifespan=lifespan,
                  description="Retrieval-augmented assistant with sensitivity-aware routing. "
                              "Authenticate with 'Authorization: Bearer <key>' or 'X-API-Key'.")
    app.state.rag = state
    limited, generating = [Depends(rate_limit)], [Depends(rate_limit), Depends(generation_slot)]
    for module, dependencies in ((routes_query, generating), (routes_search, limited), (routes_chat, generating),
                                 (routes_documents, limited), (routes_audit, limited), (routes_health, [])):
        app.include_router(module.router, dependencies=dependencies)
    _install_error_handlers(app, state)
    app.add_middleware(RequestContextMiddleware, state=state)
    return app


def _components_built(runtime: Runtime) -> bool:
    return any(name in vars(runtime) for name in ("embedder", "store", "detector", "ingestor", "assistant"))


def _install_error_handlers(app: FastAPI, state: ServiceState) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        error = to_service_error(exc)
        if isinstance(error, ServiceUnavailable) and error.retry_after is not None:
            error.retry_after = state.settings.retry_after_s
        request_id = getattr(request.state, "request_id", None)
        if error.status_code >= 500:
            logger.warning("request %s failed: %s %s", request_id, error.status_code, error.code)
        return JSONResponse(error_body(error, request_id), status_code=error.status_code, headers=error.headers)

    for cls in (ServiceError, RequestValidationError, StarletteHTTPException, RoutingError, IndexingError, Exception):
        app.add_exception_handler(cls, handle)


class RequestContextMiddleware:
    """Gives each request an id (``X-Request-ID``), refuses oversized bodies, and records HTTP metrics.

    The metrics label is the route template (``/v1/documents/{doc_id}``), never the raw path.
    """

    def __init__(self, app: ASGIApp, state: ServiceState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        self.state.bind_queue()  # once the backends exist (cheap identity check afterwards)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            if self._too_large(scope):
                await self._refuse_too_large(scope, receive, send_with_id, request_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            release = scope["state"].get("release_generation")
            if release is not None:  # a generation slot (rag.api.deps.generation_slot), held until the end
                release()
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.state.metrics.observe_request(endpoint, scope.get("method", ""), status, time.perf_counter() - started)

    def _too_large(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    return int(value) > self.state.settings.max_file_bytes + _BODY_SLACK_BYTES
                except ValueError:
                    return False
        return False

    async def _refuse_too_large(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        error = PayloadTooLarge(f"the request body is over the {self.state.settings.max_file_bytes:,}-byte limit")
        response = JSONResponse(error_body(error, request_id), status_code=error.status_code)
        await response(scope, receive, send)
