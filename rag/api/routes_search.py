"""`POST /v1/search`: the retrieval step alone, filtered to the caller's groups (no model generates)."""
from __future__ import annotations

import time

from fastapi import APIRouter

from rag.api.deps import PrincipalDep, RequestIdDep, StateDep, check_question
from rag.api.recording import Recorder
from rag.api.schemas import ERROR_RESPONSES, SearchHitOut, SearchRequest, SearchResponse
from rag.errors import InvalidRequest

router = APIRouter(tags=["query"], responses=ERROR_RESPONSES)


@router.post("/v1/search", response_model=SearchResponse, summary="Retrieve chunks you may read (no generation)")
def search(body: SearchRequest, state: StateDep, principal: PrincipalDep, request_id: RequestIdDep) -> SearchResponse:
    with Recorder(state, request_id=request_id, principal=principal, endpoint="/v1/search", action="search",
                  query=body.query) as recorder:
        check_question(body.query, state)
        started = time.perf_counter()
        try:
            hits = state.runtime.retriever.search(body.query, groups=principal.groups,  # never None: unfiltered
                                                  k=body.top_k or state.settings.top_k,
                                                  mode=body.mode or state.settings.search_mode)
        except ValueError as exc:  # e.g. mode "graph" with no knowledge graph configured
            raise InvalidRequest(str(exc), field="mode") from None
        recorder.fields.update(chunk_ids=[h.chunk_id for h in hits],
                               latencies={"retrieve": time.perf_counter() - started})
    return SearchResponse(request_id=request_id, hits=[SearchHitOut.of(h) for h in hits])
