"""`POST /v1/query`: one question over the documents the caller may read, answered with citations."""
from __future__ import annotations

from fastapi import APIRouter

from rag.api.deps import PrincipalDep, RequestIdDep, StateDep, check_question
from rag.api.recording import Recorder
from rag.api.schemas import ERROR_RESPONSES, QueryRequest, QueryResponse

router = APIRouter(tags=["query"], responses=ERROR_RESPONSES)


@router.post("/v1/query", response_model=QueryResponse, summary="Ask a question (auto-routed, cited)")
def query(body: QueryRequest, state: StateDep, principal: PrincipalDep, request_id: RequestIdDep) -> QueryResponse:
    with Recorder(state, request_id=request_id, principal=principal, endpoint="/v1/query", action="query",
                  query=body.question) as recorder:
        check_question(body.question, state)
        recorder.answer = state.runtime.assistant.answer(body.question, principal, top_k=body.top_k,
                                                         request_id=request_id)
    return QueryResponse.of(recorder.answer, state.model_info(recorder.answer))
