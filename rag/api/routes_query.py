"""`POST /v1/query`: one question over the documents the caller may read, answered with citations.
`POST /v1/route`: the same request as a dry run: what would be sent where, without generating."""
from __future__ import annotations

from fastapi import APIRouter

from rag.api.deps import PrincipalDep, RequestIdDep, StateDep, check_question
from rag.api.recording import Recorder
from rag.api.schemas import ERROR_RESPONSES, QueryRequest, QueryResponse, RoutePlanRequest, RoutePlanResponse

router = APIRouter(tags=["query"], responses=ERROR_RESPONSES)


@router.post("/v1/query", response_model=QueryResponse, summary="Ask a question (auto-routed, cited)")
def query(body: QueryRequest, state: StateDep, principal: PrincipalDep, request_id: RequestIdDep) -> QueryResponse:
    with Recorder(state, request_id=request_id, principal=principal, endpoint="/v1/query", action="query",
                  query=body.question) as recorder:
        check_question(body.question, state)
        recorder.answer = state.runtime.assistant.answer(body.question, principal, top_k=body.top_k,
                                                         request_id=request_id)
    return QueryResponse.of(recorder.answer, state.model_info(recorder.answer))


@router.post("/v1/route", response_model=RoutePlanResponse, summary="Dry run: route, level, reasons, chunk ids "
             "and labels, prompt tokens (no generation, no text)")
def route(body: RoutePlanRequest, state: StateDep, principal: PrincipalDep, request_id: RequestIdDep) -> RoutePlanResponse:
    check_question(body.question, state)
    history = [m.model_dump() for m in body.history]
    plan = state.runtime.assistant.plan(body.question, principal, top_k=body.top_k, history=history,
                                        request_id=request_id)
    state.audit.append(request_id=request_id, user=principal.name, endpoint="/v1/route", action="route", status=200,
                       route=plan.route, reasons=plan.reasons, chunk_ids=[c["chunk_id"] for c in plan.chunks],
                       query=body.question)
    return RoutePlanResponse(request_id=request_id, **plan.to_dict())
