"""Operations endpoints: liveness, readiness, Prometheus metrics, and the OpenAI model list."""
from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from rag.api.deps import OptionalPrincipalDep, PrincipalDep, StateDep
from rag.api.routes_chat import MODEL_ID
from rag.api.schemas import ERROR_RESPONSES, Liveness, ModelCard, ModelList, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Liveness, summary="The process is alive")
def healthz() -> Liveness:
    return Liveness()


@router.get("/readyz", response_model=Readiness, response_model_exclude_none=True,
            summary="Ready or not (503 when not); backends, index and models for admins only",
            responses={503: {"model": Readiness, "description": "The index cannot open or no backend can serve"}})
def readyz(state: StateDep, principal: OptionalPrincipalDep) -> JSONResponse:
    index = state.index_status()
    backends = state.backend_status()
    ready = bool(index.get("ok")) and any(b.get("ok") for b in backends.values())
    status = "ready" if ready else "unavailable"
    if principal is None or principal.role != "admin":  # paths, counts, URLs are not for anonymous probes
        body = Readiness(status=status)
    else:
        body = Readiness(status=status, backends=backends, index=index, models=state.registry.describe())
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
def metrics(state: StateDep) -> Response:
    state.refresh_index_gauges()
    payload, content_type = state.metrics.render()
    return Response(payload, media_type=content_type)


@router.get("/v1/models", response_model=ModelList, tags=["openai"], responses=ERROR_RESPONSES,
            summary="OpenAI model list: 'rag', plus the registry entries behind it")
def list_models(state: StateDep, principal: PrincipalDep) -> ModelList:
    del principal  # authentication only
    return ModelList(data=[ModelCard(id=MODEL_ID, created=state.started)], registry=state.registry.describe())
